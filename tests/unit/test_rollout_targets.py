"""Targets and label selectors as users write them."""

import pytest

from ansible.module_utils.rollout_targets import (
    Requirement,
    Target,
    TargetError,
    parse_selector,
    parse_selector_spec,
    parse_targets,
    selector_matches,
)


def test_targets_in_kubectl_and_dict_forms():
    targets = parse_targets(["deployment/web", "sts/db", "DaemonSets/agent",
                             {"kind": "job", "name": "migrate", "namespace": "batch"},
                             "deploy/web"], "shop")
    assert targets == [Target("Deployment", "shop", "web"), Target("StatefulSet", "shop", "db"),
                       Target("DaemonSet", "shop", "agent"), Target("Job", "batch", "migrate")]
    assert targets[0].ref == "deployment/web"


@pytest.mark.parametrize("item, error", [
    ("service/web", "unsupported kind 'service': rollout_wait waits for Deployment, StatefulSet, "
                    "DaemonSet, ReplicaSet, Job"),
    ("web", "not of the form kind/name"),
    ("deployment/", "not of the form kind/name"),
    ({"kind": "Deployment"}, "needs both kind and name"),
    ({"kind": "Deployment", "name": "web", "nmespace": "x"}, "unknown keys: nmespace"),
    (42, "must be a kind/name string or a dict"),
])
def test_bad_targets_are_explained(item, error):
    with pytest.raises(TargetError) as caught:
        parse_targets([item], "shop")
    assert error in str(caught.value)


@pytest.mark.parametrize("selector, labels, matches", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "api"}, False),
    ("app=web,tier!=cache", {"app": "web", "tier": "cache"}, False),
    ("app=web,tier!=cache", {"app": "web"}, True),
    ("tier in (front, back),app", {"tier": "back", "app": "x"}, True),
    ("tier in (front,back)", {}, False),
    ("tier notin (cache)", {}, True),
    ("tier notin (cache)", {"tier": "cache"}, False),
    ("!canary", {"canary": "true"}, False),
    ("!canary", {"app": "web"}, True),
    ({"app.kubernetes.io/instance": "shop"}, {"app.kubernetes.io/instance": "shop"}, True),
])
def test_selectors_match_like_the_api_server(selector, labels, matches):
    assert selector_matches(parse_selector(selector), labels) is matches


def test_selector_parses_into_requirements():
    assert parse_selector("a=1, b in (x,y), !c, d") == (
        Requirement("a", "=", ("1",)), Requirement("b", "in", ("x", "y")),
        Requirement("c", "!"), Requirement("d", "exists"))


@pytest.mark.parametrize("selector", ["", "a=(b)", "a in b"])
def test_bad_selectors_are_refused(selector):
    with pytest.raises(TargetError):
        parse_selector(selector)


def test_selector_spec_defaults_to_the_workloads_with_rollouts():
    spec = parse_selector_spec("app=web", None, "shop")
    assert spec.kinds == ("Deployment", "StatefulSet", "DaemonSet", "Job")
    assert parse_selector_spec("app=web", ["sts", "statefulset", "rs"], "shop").kinds == (
        "StatefulSet", "ReplicaSet")
    assert parse_selector_spec(None, None, "shop") is None
