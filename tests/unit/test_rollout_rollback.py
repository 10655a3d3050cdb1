"""Which revision a failed rollout goes back to, and the patch that restores it."""

import pytest
from test_rollout_status import load, pod, set_state

from ansible.module_utils.rollout_rollback import (
    JSON_PATCH,
    STRATEGIC_MERGE_PATCH,
    RollbackError,
    plan_rollback,
)


def plan(fx: dict, failed_pods=()):
    return plan_rollback(fx["kind"], fx["workload"], fx["replicasets"], fx["controllerrevisions"],
                         list(failed_pods))


def test_deployment_gets_the_previous_replicasets_template_without_its_hash():
    fx = load("deployment_crashloop")
    found = plan(fx)
    assert (found.from_revision, found.to_revision) == (3, 2)
    assert found.content_type == JSON_PATCH
    [operation] = found.patch
    assert operation["op"] == "replace" and operation["path"] == "/spec/template"
    assert operation["value"]["metadata"]["labels"] == {"app": "backend"}
    assert operation["value"]["spec"]["containers"][0]["image"] == "registry.example/shop/backend:1.3.2"


def test_deployment_skips_revisions_with_the_current_template():
    fx = load("deployment_crashloop")
    # Revision 2 already has the failing template (as after an earlier rollback).
    fx["replicasets"][0]["spec"]["template"] = fx["replicasets"][1]["spec"]["template"]
    with pytest.raises(RollbackError, match="no previous revision"):
        plan(fx)


def test_deployment_without_history_cannot_roll_back():
    fx = load("deployment_failedcreate")
    fx["replicasets"] = fx["replicasets"][1:]
    with pytest.raises(RollbackError, match="no previous revision"):
        plan(fx)


def test_paused_deployment_is_not_rolled_back():
    fx = load("deployment_crashloop")
    fx["workload"]["spec"]["paused"] = True
    with pytest.raises(RollbackError, match="paused"):
        plan(fx)


@pytest.mark.parametrize("name, image", [("statefulset_rollout", "registry.example/db:2.0"),
                                         ("daemonset_rollout", "registry.example/agent:5.0")])
def test_controller_revision_data_is_applied_as_it_is(name, image):
    fx = load(name)
    found = plan(fx)
    assert (found.from_revision, found.to_revision) == (2, 1)
    assert found.content_type == STRATEGIC_MERGE_PATCH
    assert found.patch["spec"]["template"]["$patch"] == "replace"
    assert found.patch["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_statefulset_current_revision_is_its_update_revision():
    fx = load("statefulset_rollout")
    # A rollback bumps the restored revision's number: the newest number is not always current.
    fx["controllerrevisions"][0]["revision"] = 3
    fx["workload"]["status"]["updateRevision"] = fx["controllerrevisions"][0]["metadata"]["name"]
    found = plan(fx)
    assert (found.from_revision, found.to_revision) == (3, 2)


def test_single_revision_cannot_roll_back():
    fx = load("daemonset_rollout")
    fx["controllerrevisions"] = fx["controllerrevisions"][1:]
    with pytest.raises(RollbackError):
        plan(fx)


def test_jobs_have_no_revisions():
    with pytest.raises(RollbackError, match="Job has no revisions"):
        plan(load("job_failed"))


def test_statefulset_rollback_deletes_the_failed_pods_that_would_block_it():
    fx = load("statefulset_rollout")
    set_state(fx, "db-2", "crashloop_with_termination_message")
    assert plan(fx, [pod(fx, "db-2")]).stuck_pods == ("db-2",)
    # Ready pods of the failed revision are replaced by the controller in its own time.
    assert plan(fx, [pod(fx, "db-1")]).stuck_pods == ()


def test_parallel_statefulsets_and_other_kinds_replace_failed_pods_themselves():
    fx = load("statefulset_rollout")
    set_state(fx, "db-2", "crashloop_with_termination_message")
    fx["workload"]["spec"]["podManagementPolicy"] = "Parallel"
    assert plan(fx, [pod(fx, "db-2")]).stuck_pods == ()
    deployment = load("deployment_crashloop")
    assert plan(deployment, deployment["pods"][1:]).stuck_pods == ()
