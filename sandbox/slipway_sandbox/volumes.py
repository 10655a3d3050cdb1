"""A dynamic provisioner for the sandbox's StorageClass: one world-writable host folder per claim.

kube-controller-manager's host-path provisioner makes each volume's folder 0750 and owned by root,
which pods under Pod Security `restricted` (non-root uids) cannot write, and fsGroup does not
apply to hostPath volumes. This process makes the folders instead: for every pending claim of a
StorageClass naming its provisioner it creates a folder under --root and a PersistentVolume
pre-bound to the claim (claimRef), which the PV controller then binds; a released volume it made
whose reclaim policy is Delete loses its folder and its PersistentVolume.

    python -m slipway_sandbox.volumes --kubeconfig K --root DIR --health-port N [--provisioner P]

GET http://127.0.0.1:N/healthz answers 200 while every watched kind is listed and watched, 503
otherwise. Actions are logged on stdout, one line each; errors on stderr.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .watching import FAILURES, Informer, Obj, annotations_of, name_of, reconcile_on_change, say

PROVISIONER = "slipway.dev/sandbox-hostpath"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
# Kubernetes still honours the beta annotation (pkg/volume/util.IsDefaultAnnotation).
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
# Set by the scheduler on a WaitForFirstConsumer claim once its pod has a node.
SELECTED_NODE = "volume.kubernetes.io/selected-node"


class OutsideRoot(ValueError):
    """A volume's folder is not one this provisioner would have made, so it is not removed."""


def claim_label(claim: Obj) -> str:
    return f"{claim['metadata']['namespace']}/{name_of(claim)}"


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The class a claim naming none gets, chosen as Kubernetes does: the newest default class,
    then the first by name."""
    defaults = [storage_class for storage_class in classes
                if any(annotations_of(storage_class).get(key) == "true"
                       for key in DEFAULT_CLASS_ANNOTATIONS)]
    if not defaults:
        return None
    # RFC 3339 timestamps in UTC sort as strings; sort() is stable, so among equally new classes
    # the name order of the first sort stays.
    defaults.sort(key=name_of)
    defaults.sort(key=lambda storage_class: storage_class["metadata"].get("creationTimestamp", ""),
                  reverse=True)
    return defaults[0]


def class_of(claim: Obj, classes: Iterable[Obj]) -> Obj | None:
    """The claim's StorageClass: the one it names, the default if it names none, None for ""."""
    classes = list(classes)
    wanted = claim["spec"].get("storageClassName")
    if wanted is None:
        return default_class(classes)
    return next((storage_class for storage_class in classes if name_of(storage_class) == wanted),
                None)


def volume_name(claim: Obj) -> str:
    """The claim's PersistentVolume, named as Kubernetes names provisioned ones: one per claim."""
    return f"pvc-{claim['metadata']['uid']}"


def claims_needing_volumes(claims: Iterable[Obj], classes: Iterable[Obj], volumes: Iterable[Obj],
                           provisioner: str) -> list[tuple[Obj, Obj]]:
    """The pending, unbound claims of `provisioner`'s classes that have no volume yet, each with
    its class."""
    classes = list(classes)
    made = {name_of(volume) for volume in volumes}
    needing = []
    for claim in claims:
        if (claim.get("status", {}).get("phase") != "Pending" or claim["spec"].get("volumeName")
                or claim["metadata"].get("deletionTimestamp")):
            continue
        storage_class = class_of(claim, classes)
        if storage_class is None or storage_class.get("provisioner") != provisioner:
            continue
        if volume_name(claim) in made:
            continue
        if (storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
                and SELECTED_NODE not in annotations_of(claim)):
            continue
        needing.append((claim, storage_class))
    return needing


def unsupported(claim: Obj) -> str | None:
    """Why a host folder cannot be this claim's volume, or None when it can."""
    spec = claim["spec"]
    if spec.get("volumeMode") == "Block":
        return "a host folder is not a block device"
    if spec.get("dataSource") or spec.get("dataSourceRef"):
        return "a new host folder cannot be filled from a data source"
    return None


def folder_for(claim: Obj, root: Path) -> Path:
    # Object names cannot contain "_" or "/", so the folder name is unambiguous and stays in root.
    metadata = claim["metadata"]
    return root / f"{metadata['namespace']}_{metadata['name']}_{metadata['uid']}"


def volume_for(claim: Obj, storage_class: Obj, root: Path, provisioner: str) -> Obj:
    """The PersistentVolume for `claim`, pre-bound to it, on the folder `folder_for` names.

    No node affinity: the one real node runs every pod that mounts volumes (kwok's nodes run none).
    """
    metadata = claim["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim), "annotations": {PROVISIONED_BY: provisioner}},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"]["accessModes"],
            "volumeMode": "Filesystem",
            "storageClassName": name_of(storage_class),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
            # The folder is made before the volume: the kubelet must find it, not create it
            # (DirectoryOrCreate would make it root's and 0755).
            "hostPath": {"path": str(folder_for(claim, root)), "type": "Directory"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "namespace": metadata["namespace"], "name": metadata["name"],
                         "uid": metadata["uid"]},
        },
    }


def volumes_to_delete(volumes: Iterable[Obj], provisioner: str) -> list[Obj]:
    """`provisioner`'s volumes whose claim is gone and whose reclaim policy is Delete."""
    return [volume for volume in volumes
            if annotations_of(volume).get(PROVISIONED_BY) == provisioner
            and volume.get("status", {}).get("phase") == "Released"
            and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"]


def folder_to_remove(volume: Obj, root: Path) -> Path:
    """The folder of `volume`, resolved; OutsideRoot unless it is a folder directly in `root`,
    as the ones made here are (a volume edited, or a symbolic link, must not send rmtree away)."""
    path = volume["spec"].get("hostPath", {}).get("path")
    if not path:
        raise OutsideRoot(f"{name_of(volume)} has no hostPath")
    resolved = Path(path).resolve()
    if resolved.parent != root.resolve():
        raise OutsideRoot(f"{name_of(volume)}'s folder {path} is not directly in {root}")
    return resolved


class Provisioner:
    """Makes and removes the folders and PersistentVolumes the decisions above call for."""

    def __init__(self, core: client.CoreV1Api, root: Path, provisioner: str) -> None:
        self._core = core
        self._root = root
        self._provisioner = provisioner
        # Claims and volumes already reported as left alone, so each is reported once.
        self._reported: set[str] = set()

    def reconcile(self, claims: list[Obj], classes: list[Obj], volumes: list[Obj]) -> bool:
        """Acts on one view of the cluster; False when an action failed and is worth retrying."""
        succeeded = True
        for claim, storage_class in claims_needing_volumes(claims, classes, volumes,
                                                           self._provisioner):
            reason = unsupported(claim)
            if reason:
                self._report_once(claim["metadata"]["uid"],
                                  f"not provisioning {claim_label(claim)}: {reason}")
                continue
            succeeded &= self._attempt(f"provisioning {claim_label(claim)}", self._provision,
                                       claim, storage_class)
        for volume in volumes_to_delete(volumes, self._provisioner):
            succeeded &= self._attempt(f"deleting {name_of(volume)}", self._delete, volume)
        return succeeded

    def _attempt(self, what: str, action: Callable[..., None], *args: Obj) -> bool:
        try:
            action(*args)
        except OutsideRoot as refusal:
            self._report_once(str(refusal), f"not deleting: {refusal}")
        except FAILURES as error:
            say(f"{what} failed: {error}", error=True)
            return False
        return True

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            say(message, error=True)

    def _provision(self, claim: Obj, storage_class: Obj) -> None:
        folder = folder_for(claim, self._root)
        folder.mkdir(exist_ok=True)
        # World-writable: pods run as arbitrary non-root uids (999 for the data stores, under Pod
        # Security `restricted`) and fsGroup does not apply to hostPath volumes; the sandbox is
        # single-user and disposable. chmod, as mkdir's mode is cut by the umask.
        folder.chmod(0o777)
        volume = volume_for(claim, storage_class, self._root, self._provisioner)
        try:
            self._core.create_persistent_volume(body=volume)
        except ApiException as error:
            if error.status == 409:  # made by an earlier pass or run, not yet in our copy
                return
            raise
        say(f"provisioned {name_of(volume)} for {claim_label(claim)}: {folder} "
            f"({volume['spec']['capacity']['storage']})")

    def _delete(self, volume: Obj) -> None:
        folder = folder_to_remove(volume, self._root)
        # The folder goes first: were the volume deleted first and this process stopped in
        # between, nothing would name the folder any more.
        had_folder = folder.exists()
        if had_folder:
            shutil.rmtree(folder)
        metadata = volume["metadata"]
        if metadata.get("deletionTimestamp"):
            # Already being deleted (by an earlier pass, or by someone while it was bound, when
            # its pv-protection finalizer waits for the claim to go): only the folder was left.
            if had_folder:
                say(f"removed {folder} of {name_of(volume)}, which is being deleted")
            return
        # The precondition makes a pass acting on a view older than our own deletion (or than
        # any other change to the volume) a no-op instead of a second deletion.
        preconditions = {"uid": metadata["uid"], "resourceVersion": metadata["resourceVersion"]}
        try:
            self._core.delete_persistent_volume(name_of(volume),
                                                body={"preconditions": preconditions})
        except ApiException as error:
            # Gone, or changed since this view: the next pass acts on what it has become.
            if error.status in (404, 409):
                return
            raise
        claim = volume["spec"].get("claimRef", {})
        say(f"deleted {name_of(volume)} (was {claim.get('namespace')}/{claim.get('name')}) "
            f"and {folder}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m slipway_sandbox.volumes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--root", required=True, type=Path,
                        help="the folder the volumes' folders are made in")
    parser.add_argument("--provisioner", default=PROVISIONER,
                        help="the StorageClasses' provisioner this serves (default: %(default)s)")
    parser.add_argument("--health-port", required=True, type=int)
    args = parser.parse_args(argv)

    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)

    def api() -> client.ApiClient:
        # One client per thread: each watch holds a connection of its own for minutes.
        return config.new_client_from_config(config_file=str(args.kubeconfig))

    changed = threading.Event()
    claims = Informer("persistentvolumeclaims",
                      client.CoreV1Api(api()).list_persistent_volume_claim_for_all_namespaces,
                      changed)
    classes = Informer("storageclasses", client.StorageV1Api(api()).list_storage_class, changed)
    volumes = Informer("persistentvolumes", client.CoreV1Api(api()).list_persistent_volume, changed)
    provisioner = Provisioner(client.CoreV1Api(api()), root, args.provisioner)
    say(f"serving StorageClasses of provisioner {args.provisioner}; volumes in {root}")
    reconcile_on_change(args.health_port, [claims, classes, volumes], changed,
                        lambda: provisioner.reconcile(claims.objects(), classes.objects(), volumes.objects()))


if __name__ == "__main__":
    main()
