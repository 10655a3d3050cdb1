"""The real node's network: a bridge of the sandbox's own, and the node in a network namespace.

Like a kind node in its container, the node (containerd, kubelet, kube-proxy and its pods) lives
in the network namespace NODE_NETNS, joined to the host by a veth pair on the bridge BRIDGE.
The host owns BRIDGE's address (HOST_ADDRESS), where the API server's forwarder and cluster DNS
listen; the node owns NODE_ADDRESS; pods get POD_CIDR on the node's CNI bridge. The node's
iptables/nftables rules and sysctls (ip_forward, br_netfilter's) are the namespace's own, so
they vanish with it; the host only gains the bridge, one route and one nftables table, and
forwards nothing: pod traffic can reach pods, the node and HOST_ADDRESS, and nothing else.
"""

from __future__ import annotations

import hashlib
import subprocess

from .layout import (BRIDGE, BRIDGE_CIDR, HOST_ADDRESS, NODE, NODE_ADDRESS, NODE_NETNS, NODE_VETH, POD_CIDR,
                     PORTS, SandboxError, log)

HOST_TABLE = "slipway_sandbox"
NODE_TABLE = "slipway_node"


def run(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SandboxError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


def in_node(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run("nsenter", f"--net=/run/netns/{NODE_NETNS}", "--", *argv, check=check, stdin=stdin)


def link_exists(name: str, *, in_netns: bool = False) -> bool:
    command = in_node if in_netns else run
    return command("ip", "link", "show", name, check=False).returncode == 0


def netns_exists() -> bool:
    return NODE_NETNS in run("ip", "netns", "list").stdout.split()


def host_rules() -> str:
    """The host's guard: nothing forwarded to or from the bridge; from it, only what the node needs."""
    return f"""
table inet {HOST_TABLE} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "{BRIDGE}" counter drop
        oifname "{BRIDGE}" counter drop
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname != "{BRIDGE}" accept
        ct state established,related accept
        # The API server for the node, the registry for its image pulls.
        ip daddr {HOST_ADDRESS} tcp dport {{ {PORTS["kube-apiserver"]}, {PORTS["registry"]} }} accept
        ip daddr {HOST_ADDRESS} meta l4proto {{ tcp, udp }} th dport 53 accept
        counter drop
    }}
}}
"""


def node_rules() -> str:
    """The node's guard: pods reach pods and the host's bridge address, nothing else."""
    return f"""
table inet {NODE_TABLE} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        ip saddr {POD_CIDR} ip daddr != {{ {POD_CIDR}, {HOST_ADDRESS} }} counter drop
    }}
}}
"""


def load_rules(table: str, rules: str, *, in_netns: bool) -> None:
    """Load a table of ours, unless the same rules are loaded already: reloading would reset
    its counters, and `up` runs again while the sandbox works (site.yml's provision phase)."""
    command = in_node if in_netns else run
    loaded = NODE / f"nftables-{table}.sha256"
    digest = hashlib.sha256(rules.encode()).hexdigest()
    present = command("nft", "list", "table", "inet", table, check=False).returncode == 0
    if present and loaded.exists() and loaded.read_text() == digest:
        return
    if present:
        command("nft", "delete", "table", "inet", table)
    result = command("nft", "-f", "-", check=False, stdin=rules)
    if result.returncode != 0:
        raise SandboxError(f"loading nftables table {table} failed: {result.stderr.strip()}")
    NODE.mkdir(parents=True, exist_ok=True)
    loaded.write_text(digest)


def up() -> None:
    """Make the bridge, the node's namespace and its link; safe to run on a sandbox already up."""
    if not link_exists(BRIDGE):
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        log(f"made bridge {BRIDGE} ({BRIDGE_CIDR})")
    if str(BRIDGE_CIDR) not in run("ip", "-o", "addr", "show", "dev", BRIDGE).stdout:
        run("ip", "addr", "add", str(BRIDGE_CIDR), "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    if not netns_exists():
        run("ip", "netns", "add", NODE_NETNS)
        log(f"made network namespace {NODE_NETNS}")
    if not link_exists("eth0", in_netns=True):
        run("ip", "link", "add", NODE_VETH, "type", "veth", "peer", "name", "eth0", "netns", NODE_NETNS)
    run("ip", "link", "set", NODE_VETH, "master", BRIDGE, "up")
    node_cidr = f"{NODE_ADDRESS}/{BRIDGE_CIDR.network.prefixlen}"
    if node_cidr not in in_node("ip", "-o", "addr", "show", "dev", "eth0").stdout:
        in_node("ip", "addr", "add", node_cidr, "dev", "eth0")
    in_node("ip", "link", "set", "lo", "up")
    in_node("ip", "link", "set", "eth0", "up")
    in_node("ip", "route", "replace", "default", "via", HOST_ADDRESS)
    # The node routes between its pods' bridge and eth0; the host never forwards.
    in_node("sysctl", "-qw", "net.ipv4.ip_forward=1")
    run("ip", "route", "replace", str(POD_CIDR), "via", NODE_ADDRESS, "dev", BRIDGE)
    load_rules(HOST_TABLE, host_rules(), in_netns=False)
    load_rules(NODE_TABLE, node_rules(), in_netns=True)


def down() -> None:
    """Remove what up() made; the node's processes and pod namespaces must be gone first."""
    if netns_exists():
        run("ip", "netns", "delete", NODE_NETNS)
        log(f"removed network namespace {NODE_NETNS}")
    if link_exists(BRIDGE):
        run("ip", "link", "delete", BRIDGE)
        log(f"removed bridge {BRIDGE}")
    run("nft", "delete", "table", "inet", HOST_TABLE, check=False)
    for table in (HOST_TABLE, NODE_TABLE):
        (NODE / f"nftables-{table}.sha256").unlink(missing_ok=True)
