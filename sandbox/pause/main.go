// Command pause is the first process of a pod sandbox: the container whose namespaces the
// pod's other containers join. It holds those namespaces open by simply staying alive,
// so it does nothing but wait, using no CPU and very little memory.
//
// Being PID 1 of the pod's PID namespace (when the pod shares one), it also inherits every
// orphaned process of the pod: the kernel reparents them to it, and nobody else will collect
// their exit status, so it reaps them or they stay zombies, holding PIDs, for ever.
//
// The kernel delivers no signal to a PID 1 whose handler is the default one, so SIGINT and
// SIGTERM do nothing unless handled; it handles them by exiting 0, which is how the runtime
// stops the sandbox cleanly instead of waiting for a timeout and sending SIGKILL.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause (slipway sandbox)")
		return
	}
	// Ask for the signals before anything else, so none that arrives early is lost.
	// SIGCHLD is buffered generously: signals of one kind coalesce anyway, and each
	// wake-up reaps every child that has exited, not just one.
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGINT, syscall.SIGTERM)
	// A child may have exited before Notify took effect; collect it now.
	reap()
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		// SIGINT or SIGTERM: the sandbox is being stopped. Exiting ends the PID namespace,
		// and the kernel kills whatever is left in it.
		os.Exit(0)
	}
}

// reap collects the exit status of every child that has exited, without blocking:
// WNOHANG returns 0 once no exited child remains, and ECHILD says there is no child at all.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
