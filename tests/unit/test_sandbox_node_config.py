"""The sandbox's real node as configuration: addresses, isolation, and image names.

The node itself is exercised by tests/integration/test_sandbox_node.py; these check the
decisions behind it without starting anything.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox"))
from slipway_sandbox import addons, cli, control_plane, images, layout, network, node  # noqa: E402

KWOK_POD_RANGE = ipaddress.ip_network("10.244.0.0/16")
ADDRESS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d./])")  # addresses, not ranges
OWN_ADDRESSES = {"127.0.0.1", layout.HOST_ADDRESS, layout.NODE_ADDRESS}


@pytest.mark.parametrize(("reference", "expected"), [
    ("slipway/slipway-demo-backend:0123abcd", "docker.io/slipway/slipway-demo-backend:0123abcd"),
    ("redis", "docker.io/library/redis:latest"),
    ("redis:7", "docker.io/library/redis:7"),
    ("registry:5000/app", "registry:5000/app:latest"),
    ("localhost/app:1", "localhost/app:1"),
    ("quay.io/org/app@sha256:" + "a" * 64, "quay.io/org/app@sha256:" + "a" * 64),
])
def test_image_references_are_named_as_containerd_names_them(reference: str, expected: str) -> None:
    assert images.normalized(reference) == expected


def test_pods_get_a_range_of_their_own() -> None:
    assert not layout.POD_CIDR.overlaps(KWOK_POD_RANGE)
    assert not layout.POD_CIDR.overlaps(ipaddress.ip_network(layout.SERVICE_CIDR))
    assert not layout.POD_CIDR.overlaps(layout.BRIDGE_CIDR.network)
    assert ipaddress.ip_address(layout.NODE_ADDRESS) in layout.BRIDGE_CIDR.network


def test_pod_traffic_is_never_masqueraded() -> None:
    bridge = node.cni_config()["plugins"][0]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": str(layout.POD_CIDR)}]]
    assert str(node.NODE) in bridge["ipam"]["dataDir"]


def test_the_node_drops_pod_traffic_to_anything_but_pods_and_the_host() -> None:
    rules = network.node_rules()
    assert f"ip saddr {layout.POD_CIDR} ip daddr != {{ {layout.POD_CIDR}, {layout.HOST_ADDRESS} }}" in rules
    assert "drop" in rules and "masquerade" not in rules


def test_the_host_forwards_nothing_for_the_bridge_and_admits_only_the_api_the_registry_and_dns() -> None:
    rules = network.host_rules()
    assert f'iifname "{layout.BRIDGE}" counter drop' in rules
    assert f'oifname "{layout.BRIDGE}" counter drop' in rules
    assert f"tcp dport {{ {layout.PORTS['kube-apiserver']}, {layout.PORTS['registry']} }} accept" in rules
    assert "th dport 53 accept" in rules
    assert rules.rstrip().endswith("counter drop\n    }\n}") or "counter drop\n    }\n}" in rules


def test_the_kubelet_runs_on_cgroup_v1_with_its_own_folders_and_cluster_dns() -> None:
    config = node.kubelet_config()
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == node.CGROUP_ROOT
    assert config["clusterDNS"] == [layout.HOST_ADDRESS]
    assert config["address"] == config["healthzBindAddress"] == layout.NODE_ADDRESS
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert Path(config["resolvConf"]).is_relative_to(layout.NODE)
    assert Path(config["podLogsDir"]).is_relative_to(layout.NODE)


def test_containerd_may_not_lower_oom_scores_and_keeps_its_namespaces_in_its_state(tmp_path: Path) -> None:
    (tmp_path / "pause").write_bytes(b"a pause binary")
    config = node.containerd_config(tmp_path)
    assert f'sandbox = "{node.pause_image(tmp_path)}"' in config
    assert "restrict_oom_score_adj = true" in config
    assert "netns_mounts_under_state_dir = true" in config
    assert f'root = "{node.CONTAINERD_ROOT}"' in config
    assert '"io.containerd.internal.v1.opt"' in config  # would write /opt/containerd


def test_kube_proxy_leaves_the_host_wide_conntrack_settings_alone() -> None:
    config = node.kube_proxy_config()
    assert config["mode"] == "nftables"
    assert config["conntrack"] == {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                                   "tcpCloseWaitTimeout": "0s"}
    assert config["nodePortAddresses"] == [f"{layout.NODE_ADDRESS}/32"]


def test_every_process_listens_only_on_the_sandboxs_own_addresses() -> None:
    for component in cli.components(Path("/bin-dir")):
        for argument in component.argv:
            for address in ADDRESS.findall(argument):
                assert address in OWN_ADDRESSES, f"{component.name}: {argument}"
    assert f"bind {layout.HOST_ADDRESS}" in addons.corefile()
    assert "forward" not in addons.corefile()  # nothing outside the cluster is ever asked


def test_node_processes_run_in_the_nodes_namespace_and_the_rest_on_the_host() -> None:
    in_node = {c.name for c in cli.components(Path("/bin-dir")) if c.netns == layout.NODE_NETNS}
    assert in_node == {"containerd", "kubelet", "kube-proxy"}
    kubelet = next(c for c in cli.components(Path("/bin-dir")) if c.name == "kubelet")
    assert kubelet.command()[:2] == ["nsenter", f"--net=/run/netns/{layout.NODE_NETNS}"]
    assert kubelet.binary == "kubelet"  # what the pid file check finds after nsenter's exec


def test_kwoks_nodes_are_tainted_and_the_placement_tolerates_exactly_that() -> None:
    for kwok_node in control_plane.kwok_nodes():
        assert kwok_node["spec"]["taints"] == [layout.KWOK_TAINT]
        assert kwok_node["metadata"]["labels"]["type"] == layout.KWOK_PLACEMENT["nodeSelector"]["type"]
    (toleration,) = layout.KWOK_PLACEMENT["tolerations"]
    assert {k: toleration[k] for k in ("key", "value", "effect")} == layout.KWOK_TAINT


def test_the_default_storage_class_is_the_sandboxs_own_provisioner() -> None:
    assert control_plane.storage_class()["provisioner"] == control_plane.VOLUME_PROVISIONER


def test_the_sandbox_inventory_prints_urls_on_the_ingress_controllers_port() -> None:
    inventory = yaml.safe_load((layout.HERE.parent / "inventory" / "sandbox" / "group_vars" / "all.yml").read_text())
    assert inventory["slipway_app_ingress_port"] == layout.PORTS["ingress-http"]
