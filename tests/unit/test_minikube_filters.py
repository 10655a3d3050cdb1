"""The minikube role's decisions, on minikube's JSON and text output (fixtures shaped like the
output of minikube's `profile list -o json`, `addons list -o json` and `docker-env`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

FIXTURES = Path(__file__).parent / "fixtures" / "minikube"
spec = importlib.util.spec_from_file_location(
    "minikube_filters", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "minikube.py"
)
minikube = importlib.util.module_from_spec(spec)
spec.loader.exec_module(minikube)

WANTED = {"driver": "docker", "cpus": 2, "memory": "4g", "kubernetes_version": "v1.36.3",
          "container_runtime": "docker"}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_running_profile_with_the_right_settings_is_left_alone() -> None:
    decision = minikube.minikube_profile_action(fixture("profile_list_running.json"), "slipway", WANTED)
    assert decision == {"action": "none", "status": "Running", "differences": []}


def test_stopped_profile_is_started() -> None:
    decision = minikube.minikube_profile_action(fixture("profile_list_stopped.json"), "slipway", WANTED)
    assert decision["action"] == "start" and decision["status"] == "Stopped"


def test_paused_or_degraded_profiles() -> None:
    text = fixture("profile_list_running.json")
    assert minikube.minikube_profile_action(text.replace('"Running"', '"Paused"'), "slipway", WANTED)["action"] == "unpause"
    assert minikube.minikube_profile_action(text.replace('"Running"', '"Degraded"'), "slipway", WANTED)["action"] == "start"


def test_missing_profile_is_created() -> None:
    for name in ("profile_list_none.json", "profile_list_running.json"):
        decision = minikube.minikube_profile_action(fixture(name), "absent", WANTED)
        assert decision["action"] == "create"
    assert minikube.minikube_profile_action("", "slipway", WANTED)["action"] == "create"


def test_changed_settings_fail_listing_every_difference() -> None:
    decision = minikube.minikube_profile_action(fixture("profile_list_changed.json"), "slipway", WANTED)
    assert decision["action"] == "fail"
    assert decision["differences"] == [
        "cpus: the profile has 4, the inventory wants 2",
        "memory: the profile has 8000, the inventory wants 4096",
        "kubernetes_version: the profile has 'v1.35.0', the inventory wants 'v1.36.3'",
    ]


def test_version_without_v_and_memory_units_compare_equal() -> None:
    wanted = {**WANTED, "kubernetes_version": "1.36.3", "memory": 4096}
    assert minikube.minikube_profile_action(fixture("profile_list_running.json"), "slipway", wanted)["action"] == "none"
    assert [minikube.memory_mb(v) for v in (4096, "4096", "4096mb", "4g", "4GiB")] == [4096] * 5
    with pytest.raises(AnsibleFilterError):
        minikube.memory_mb("lots")


def test_invalid_profile_fails() -> None:
    decision = minikube.minikube_profile_action(fixture("profile_list_invalid.json"), "slipway", WANTED)
    assert decision["action"] == "fail" and "invalid" in decision["differences"][0]


def test_unexpected_output_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="did not print JSON"):
        minikube.minikube_profile_action("😿 something broke", "slipway", WANTED)
    with pytest.raises(AnsibleFilterError, match="unexpected output"):
        minikube.minikube_profile_action('{"error": {"name": "GUEST_STATUS"}}', "slipway", WANTED)


def test_addons_to_enable() -> None:
    wanted = ["ingress", "metrics-server", "ingress"]
    assert minikube.minikube_addons_to_enable(fixture("addons_list.json"), wanted) == ["ingress", "metrics-server"]
    assert minikube.minikube_addons_to_enable(fixture("addons_list_ingress.json"), wanted) == ["metrics-server"]
    assert minikube.minikube_addons_to_enable(fixture("addons_list.json"), ["storage-provisioner"]) == []


def test_unknown_addon_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="no addon named ingres"):
        minikube.minikube_addons_to_enable(fixture("addons_list.json"), ["ingres"])


def test_docker_env_shell_none() -> None:
    env = minikube.minikube_docker_env(fixture("docker_env_none.txt"))
    assert env["docker_host"] == "tcp://192.168.49.2:2376"
    assert env["docker_tls_verify"] is True
    assert env["docker_cert_path"] == "/home/dev/.minikube/certs"
    assert env["variables"]["MINIKUBE_ACTIVE_DOCKERD"] == "slipway"


def test_docker_env_json_and_shell_forms() -> None:
    env = minikube.minikube_docker_env(fixture("docker_env.json"))
    assert (env["docker_host"], env["docker_cert_path"]) == ("tcp://127.0.0.1:32771", "/Users/dev/.minikube/certs")
    exported = 'export DOCKER_HOST="unix:///run/docker.sock"\n# To point your shell ...\n'
    assert minikube.minikube_docker_env(exported) == {
        "docker_host": "unix:///run/docker.sock", "docker_tls_verify": False, "docker_cert_path": "",
        "variables": {"DOCKER_HOST": "unix:///run/docker.sock"}}


def test_docker_env_without_a_host_or_with_garbage_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="no DOCKER_HOST"):
        minikube.minikube_docker_env("DOCKER_TLS_VERIFY=1\n")
    with pytest.raises(AnsibleFilterError, match="unexpected line"):
        minikube.minikube_docker_env("$(rm -rf /)\n")


def test_version_parsing() -> None:
    assert minikube.minikube_version("v1.37.0\n") == "v1.37.0"
    assert minikube.minikube_version("minikube version: v1.38.0-beta.0\ncommit: abc\n") == "v1.38.0-beta.0"
    assert minikube.minikube_version("") == ""
