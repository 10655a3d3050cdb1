// The sandbox's pause program: PID 1 of every pod sandbox on the node. Our own, no dependencies.
module slipway.dev/sandbox/pause

go 1.26.0
