"""The sandbox's volume provisioner: which claims get a volume, the volume they get, which volumes
are deleted and which folders may be removed; and its actions against a stand-in API."""

from __future__ import annotations

import json
import stat
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox"))
from slipway_sandbox import volumes, watching  # noqa: E402

OURS = "slipway.dev/sandbox-hostpath"
ROOT = Path("/srv/volumes")


def storage_class(name: str, provisioner: str = OURS, default: bool = False,
                  created: str = "2026-01-01T00:00:00Z", **fields: str) -> dict:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "annotations": annotations, "creationTimestamp": created},
            "provisioner": provisioner, **fields}


def claim(name: str = "data", storage_class_name: str | None = "sandbox", phase: str = "Pending",
          **spec: object) -> dict:
    body = {
        "metadata": {"namespace": "shop", "name": name, "uid": f"uid-{name}"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "volumeMode": "Filesystem", **spec},
        "status": {"phase": phase},
    }
    if storage_class_name is not None:
        body["spec"]["storageClassName"] = storage_class_name
    return body


def volume(name: str = "pvc-uid-data", phase: str = "Released", policy: str = "Delete",
           provisioner: str = OURS, path: str = str(ROOT / "shop_data_uid-data")) -> dict:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "7",
                     "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}},
        "spec": {"persistentVolumeReclaimPolicy": policy, "hostPath": {"path": path},
                 "claimRef": {"namespace": "shop", "name": "data"}},
        "status": {"phase": phase},
    }


CLASSES = [storage_class("sandbox"), storage_class("other", provisioner="kubernetes.io/host-path")]


def needing(claims: list[dict], classes: list[dict] = CLASSES,
            existing: Iterable[dict] = ()) -> list[tuple[str, str]]:
    return [(item["metadata"]["name"], klass["metadata"]["name"])
            for item, klass in volumes.claims_needing_volumes(claims, classes, existing, OURS)]


def test_a_pending_claim_of_our_class_needs_a_volume() -> None:
    assert needing([claim()]) == [("data", "sandbox")]


def test_a_claim_of_another_class_is_ignored() -> None:
    assert needing([claim(storage_class_name="other"),
                    claim("lost", storage_class_name="gone")]) == []


def test_a_claim_naming_no_class_uses_the_default_class() -> None:
    classes = [storage_class("sandbox", default=True), storage_class("other", provisioner="x")]
    assert needing([claim(storage_class_name=None)], classes) == [("data", "sandbox")]


def test_a_claim_naming_no_class_is_ignored_when_the_default_is_not_ours() -> None:
    classes = [storage_class("sandbox"), storage_class("other", provisioner="x", default=True)]
    assert needing([claim(storage_class_name=None)], classes) == []
    assert needing([claim(storage_class_name=None)], [storage_class("sandbox")]) == []


def test_a_claim_asking_for_no_class_is_ignored() -> None:
    classes = [storage_class("sandbox", default=True)]
    assert needing([claim(storage_class_name="")], classes) == []


def test_the_newest_default_class_wins_then_the_first_by_name() -> None:
    older = storage_class("older", default=True, created="2026-01-01T00:00:00Z")
    newer_b = storage_class("newer-b", default=True, created="2026-02-01T00:00:00Z")
    newer_a = storage_class("newer-a", default=True, created="2026-02-01T00:00:00Z")
    assert volumes.default_class([older, newer_b, newer_a])["metadata"]["name"] == "newer-a"
    assert volumes.default_class([storage_class("plain")]) is None


def test_a_bound_or_deleted_claim_is_ignored() -> None:
    deleting = claim("deleting")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert needing([claim(phase="Bound", volumeName="pvc-uid-data"),
                    claim("named", volumeName="someone-elses"), deleting]) == []


def test_a_claim_whose_volume_exists_is_not_given_another() -> None:
    assert needing([claim()], existing=[volume(phase="Available")]) == []


def test_a_wait_for_first_consumer_claim_waits_for_its_node() -> None:
    classes = [storage_class("sandbox", volumeBindingMode="WaitForFirstConsumer")]
    assert needing([claim()], classes) == []
    scheduled = claim()
    scheduled["metadata"]["annotations"] = {"volume.kubernetes.io/selected-node": "slipway-node"}
    assert needing([scheduled], classes) == [("data", "sandbox")]


def test_block_and_data_source_claims_are_unsupported() -> None:
    assert volumes.unsupported(claim()) is None
    assert "block" in volumes.unsupported(claim(volumeMode="Block"))
    assert "data source" in volumes.unsupported(
        claim(dataSource={"kind": "PersistentVolumeClaim", "name": "origin"}))


def test_the_volume_is_prebound_to_the_claim_on_its_folder() -> None:
    klass = storage_class("sandbox", reclaimPolicy="Retain")
    made = volumes.volume_for(claim(accessModes=["ReadWriteOncePod"]), klass, ROOT, OURS)
    assert made["metadata"] == {"name": "pvc-uid-data",
                                "annotations": {"pv.kubernetes.io/provisioned-by": OURS}}
    assert made["spec"] == {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOncePod"],
        "volumeMode": "Filesystem",
        "storageClassName": "sandbox",
        "persistentVolumeReclaimPolicy": "Retain",
        "hostPath": {"path": "/srv/volumes/shop_data_uid-data", "type": "Directory"},
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "shop",
                     "name": "data", "uid": "uid-data"},
    }


def test_the_reclaim_policy_defaults_to_delete() -> None:
    made = volumes.volume_for(claim(), storage_class("sandbox"), ROOT, OURS)
    assert made["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_only_our_released_volumes_with_policy_delete_are_deleted() -> None:
    candidates = [volume("released"), volume("retained", policy="Retain"),
                  volume("bound", phase="Bound"), volume("theirs", provisioner="someone-else")]
    assert [item["metadata"]["name"]
            for item in volumes.volumes_to_delete(candidates, OURS)] == ["released"]


def test_a_folder_directly_in_the_root_may_be_removed(tmp_path: Path) -> None:
    assert volumes.folder_to_remove(volume(path=str(tmp_path / "shop_data_uid")), tmp_path) \
        == tmp_path / "shop_data_uid"


@pytest.mark.parametrize("path",
                         ["/etc", "{root}/../etc", "{root}", "{root}/a/b", "{root}/link", ""])
def test_a_folder_outside_the_root_is_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")  # resolves outside the root
    outside = volume(path=path.format(root=root))
    with pytest.raises(volumes.OutsideRoot):
        volumes.folder_to_remove(outside, root)


class FakeCore:
    """The two calls the provisioner makes, answering as the API server would; the volumes it
    holds are at resourceVersion "7" until deleted, when their finalizer keeps them, at "8"."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self.versions = {name: "7" for name in existing}
        self.created: list[dict] = []

    def create_persistent_volume(self, body: dict) -> None:
        if body["metadata"]["name"] in self.versions:
            raise ApiException(status=409, reason="AlreadyExists")
        self.versions[body["metadata"]["name"]] = "1"
        self.created.append(body)

    def delete_persistent_volume(self, name: str, body: dict) -> None:
        if name not in self.versions:
            raise ApiException(status=404, reason="NotFound")
        if body["preconditions"]["resourceVersion"] != self.versions[name]:
            raise ApiException(status=409, reason="Conflict")
        self.versions[name] = "8"

    def deleted(self) -> set[str]:
        return {name for name, version in self.versions.items() if version == "8"}


def test_provisioning_makes_a_world_writable_folder_and_the_volume(tmp_path: Path) -> None:
    core = FakeCore()
    provisioner = volumes.Provisioner(core, tmp_path, OURS)
    assert provisioner.reconcile([claim()], CLASSES, [])
    folder = tmp_path / "shop_data_uid-data"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777
    assert [made["spec"]["hostPath"]["path"] for made in core.created] == [str(folder)]
    # A pass that does not yet see the volume it made gets 409 and takes that as done.
    assert provisioner.reconcile([claim()], CLASSES, [])
    assert len(core.created) == 1


def test_an_unsupported_claim_gets_nothing(tmp_path: Path) -> None:
    core = FakeCore()
    assert volumes.Provisioner(core, tmp_path, OURS).reconcile([claim(volumeMode="Block")],
                                                               CLASSES, [])
    assert core.created == [] and list(tmp_path.iterdir()) == []


def test_deleting_removes_the_folder_then_the_volume(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "shop_data_uid-data"
    (folder / "base").mkdir(parents=True)
    core = FakeCore({"pvc-uid-data"})
    provisioner = volumes.Provisioner(core, tmp_path, OURS)
    released = volume(path=str(folder))
    assert provisioner.reconcile([], CLASSES, [released])
    assert not folder.exists() and core.deleted() == {"pvc-uid-data"}
    # Passes on a view from before the deletion, then on the volume its finalizer still holds,
    # then after it is gone: nothing more to do, nothing to retry, and one line logged in all.
    deleting = volume(path=str(folder))
    deleting["metadata"].update(resourceVersion="8", deletionTimestamp="2026-01-01T00:00:00Z")
    for view in ([released], [deleting], []):
        assert provisioner.reconcile([], CLASSES, view)
    assert capsys.readouterr().out.count("deleted pvc-uid-data") == 1


def test_a_volume_deleted_while_bound_loses_its_folder_once_released(tmp_path: Path) -> None:
    folder = tmp_path / "shop_data_uid-data"
    folder.mkdir()
    core = FakeCore({"pvc-uid-data"})
    deleting = volume(path=str(folder))
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert volumes.Provisioner(core, tmp_path, OURS).reconcile([], CLASSES, [deleting])
    assert not folder.exists() and core.deleted() == set()


def test_a_volume_outside_the_root_is_left_alone_and_not_retried(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    core = FakeCore({"pvc-uid-data"})
    provisioner = volumes.Provisioner(core, tmp_path / "root", OURS)
    assert provisioner.reconcile([], CLASSES, [volume(path=str(elsewhere))])
    assert elsewhere.exists() and core.deleted() == set()


def test_a_failed_action_asks_for_a_retry(tmp_path: Path) -> None:
    provisioner = volumes.Provisioner(FakeCore(), tmp_path / "missing-root", OURS)
    assert not provisioner.reconcile([claim()], CLASSES, [])


class FakeResponse:
    """A list's body, or a watch's event lines, as urllib3 hands them over."""

    def __init__(self, body: dict | None = None, events: Iterable[dict] = ()) -> None:
        self.data = json.dumps(body).encode()
        self._lines = [json.dumps(event).encode() + b"\n" for event in events]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._lines)

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


def named(name: str, version: str) -> dict:
    return {"metadata": {"name": name, "resourceVersion": version}}


def informer_answering(watch_events: list[dict]) -> tuple[watching.Informer, list[dict]]:
    calls: list[dict] = []

    def list_call(**arguments: object) -> FakeResponse:
        calls.append(arguments)
        if arguments.get("watch"):
            return FakeResponse(events=watch_events)
        return FakeResponse({"metadata": {"resourceVersion": "10"},
                             "items": [named("a", "9"), named("b", "10")]})

    return watching.Informer("things", list_call, threading.Event()), calls


def test_the_informer_applies_a_watch_from_the_listed_version(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watching, "WATCH_SECONDS", 0)  # so an instant watch is not taken as cut
    informer, calls = informer_answering([
        {"type": "MODIFIED", "object": named("a", "11")},
        {"type": "DELETED", "object": named("b", "12")},
        {"type": "ADDED", "object": named("c", "13")},
        {"type": "BOOKMARK", "object": named("", "14")},
    ])
    assert informer._list() == "10" and informer.synced.is_set()
    assert informer._watch("10") == "14"
    assert calls[1]["resource_version"] == "10"
    assert sorted((item["metadata"]["name"], item["metadata"]["resourceVersion"])
                  for item in informer.objects()) == [("a", "11"), ("c", "13")]


def test_the_informer_lists_again_after_410_and_fails_on_other_errors() -> None:
    gone, _ = informer_answering([{"type": "ERROR", "object": {"code": 410, "message": "too old"}}])
    assert gone._watch("10") is None
    refused, _ = informer_answering([{"type": "ERROR", "object": {"code": 500, "message": "bad"}}])
    with pytest.raises(ApiException):
        refused._watch("10")


def test_a_watch_ending_early_is_taken_as_a_cut_connection() -> None:
    informer, _ = informer_answering([{"type": "ADDED", "object": named("c", "13")}])
    with pytest.raises(watching.WatchCut):
        informer._watch("10")
