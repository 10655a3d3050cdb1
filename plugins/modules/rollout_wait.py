#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_wait
short_description: Wait for Kubernetes rollouts, fail fast when they cannot succeed, and say why
description:
  - Waits for the rollouts of Deployments, StatefulSets, DaemonSets, Jobs and ReplicaSets,
    several at once and in parallel, given by kind and name and/or by a label selector.
  - A rollout is complete by the same rules as C(kubectl rollout status). The controller has
    observed the latest spec, and updated, ready and available replica counts are reached with
    no old replicas pending termination (StatefulSet partitions honoured). A Job is complete
    when it has succeeded.
  - Watches the API (resuming from the last resourceVersion, listing again after C(410 Gone),
    reconnecting after a dropped connection or an API server restart); it never sleeps and
    polls, and returns as soon as the last rollout completes.
  - Fails as soon as a rollout cannot succeed, without waiting for the timeout, when pods of
    the B(new) revision are in C(CrashLoopBackOff) (from O(restart_threshold) restarts on),
    C(ImagePullBackOff), C(ErrImagePull), C(ErrImageNeverPull), C(InvalidImageName),
    C(CreateContainerConfigError), are C(OOMKilled) or C(Unschedulable), or wait for a claim that
    has a warning (C(ProvisioningFailed), C(FailedBinding), named with the claim) for 15 s, or when a new pod's
    readiness probe keeps failing past the grace its own settings imply (C(ReadinessProbeFailed),
    the grace being the startup probe's delay and permitted failures, then the readiness probe's,
    each attempt with its timeout, plus one period; the probe's last C(Unhealthy) message is
    quoted); when the controller
    cannot create pods (C(FailedCreate), from admission such as Pod Security, or quota); on
    C(ProgressDeadlineExceeded); and when a Job fails (C(BackoffLimitExceeded),
    C(DeadlineExceeded)). Pods of the old revision failing during a rollout, or a pod that is
    merely slow, are not failures; a readiness probe failing within its grace is slow, and is
    named as the reason at the timeout.
  - On failure, RV(msg) names the target, the reason, how many new pods are affected and the
    line that explains it (the container's termination message or last log line, else the
    server's message); RV(targets[].diagnosis) has the pods, container states, restart counts,
    the related events and log tails.
  - Rollouts whose strategy never finishes by itself (C(OnDelete), a paused Deployment, a
    suspended Job) are reported and not waited for.
version_added: "1.0.0"
author:
  - slipway maintainers
options:
  targets:
    description:
      - The workloads to wait for, each a C(kind/name) string (kubectl's short kinds such as
        C(deploy), C(sts), C(ds), C(rs) are accepted) or a dict with C(kind), C(name) and
        optionally C(namespace).
      - Supported kinds are C(Deployment), C(StatefulSet), C(DaemonSet), C(Job) and C(ReplicaSet).
    type: list
    elements: raw
  selector:
    description:
      - A label selector in kubectl syntax (C(app=web,tier in (front,back))) or a dict of labels;
        every workload of O(kinds) in O(namespace) that matches is waited for, including those
        created while waiting.
    type: raw
  kinds:
    description:
      - The kinds O(selector) looks at.
      - ReplicaSets owned by a Deployment are never selected; they are waited for through it.
    type: list
    elements: str
    default: [Deployment, StatefulSet, DaemonSet, Job]
  namespace:
    description:
      - Namespace of the targets that do not name one, and of O(selector).
    type: str
    default: default
  timeout:
    description:
      - Seconds to wait for all rollouts before failing with the reason each is stuck.
    type: int
    default: 300
  wait_for_creation:
    description:
      - Seconds a target (or a selector without match) may take to appear before it is reported
        as missing. V(0) reports a missing target at once.
    type: int
    default: 0
  restart_threshold:
    description:
      - Restarts from which a new pod in C(CrashLoopBackOff) fails the rollout. The default lets
        a container crash once (for example while a dependency starts) and then become ready.
    type: int
    default: 2
  log_lines:
    description:
      - Lines of container log to include for failing pods (the previous container's log for a
        restarted one). V(0) fetches no logs.
    type: int
    default: 20
  rollback_on_failure:
    description:
      - When a rollout fails or times out, restore the previous revision (a Deployment gets the
        previous ReplicaSet's pod template as C(kubectl rollout undo) does; a StatefulSet or
        DaemonSet its previous ControllerRevision), wait for that to settle, and still fail,
        reporting both outcomes. Jobs have no revisions and are not rolled back.
    type: bool
    default: false
  rollback_timeout:
    description:
      - Seconds to wait for a rollback to settle; defaults to O(timeout).
    type: int
  no_progress_timeout:
    description:
      - Seconds a rollout may go without any change (no replica updated, ready or available, no
        new pod phase, container state, readiness or restart) before it fails as stuck, naming
        what it waits on, apart from O(timeout), as kubedog's no-activity timeout. V(0) sets no
        such limit. A Job whose pods simply run for a long time makes no change either, so
        give such Jobs a limit above their run time.
    type: int
    default: 0
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progress
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists the objects once and reports where each rollout stands, without waiting and
      without changing anything. A failing rollout is reported, not failed.
  diff_mode:
    support: none
  idempotent:
    description: Running the task again against an unchanged cluster gives the same result and
      changes nothing.
    support: partial
    details: Only O(rollback_on_failure) changes anything, and only after a failed rollout.
  platform:
    platforms: posix
requirements:
  - python >= 3.11
  - kubernetes >= 24.2.0
  - the kubernetes.core collection
notes:
  - Needs C(list) and C(watch) on the targets' kinds and on pods, replicasets (Deployments)
    and controllerrevisions (StatefulSets, DaemonSets) in each namespace, C(get) on
    C(pods/log) for log tails and C(patch) on the targets for O(rollback_on_failure).
    Without C(watch) on events the diagnosis has no events, with a warning.
seealso:
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Apply the release, then wait for it
  kubernetes.core.k8s:
    state: present
    src: release.yml

- name: Wait for the backend and the migration Job, fail fast with the reason
  rollout_wait:
    namespace: shop
    targets:
      - deployment/backend
      - sts/mongo
      - kind: Job
        name: migrate-42
    timeout: 600

- name: Wait for everything of the release, roll back what fails
  rollout_wait:
    namespace: shop
    selector: app.kubernetes.io/instance=shop
    rollback_on_failure: true
  register: rollout

- name: Show how long each rollout took
  ansible.builtin.debug:
    msg: "{{ rollout.targets | map(attribute='spec_to_ready_seconds') | list }}"

- name: Wait with an explicit kubeconfig and context (as kubernetes.core.k8s takes them)
  rollout_wait:
    kubeconfig: ~/.kube/prod
    context: prod-eu
    namespace: shop
    targets: [deployment/frontend]
    wait_for_creation: 30
"""

RETURN = r"""
msg:
  description: One line per failing target, or a summary when all completed.
  returned: always
  type: str
  sample: 'deployment/backend: 2/2 new pods CrashLoopBackOff (exit 1): "pymongo.errors.ServerSelectionTimeoutError: mongo:27017"'
changed:
  description: True only when a failed rollout was rolled back.
  returned: always
  type: bool
watch_restarts:
  description: How often a watch had to be re-established (dropped connection, API server restart, 410 Gone).
  returned: when not in check mode
  type: int
targets:
  description: One entry per target (selected workloads included), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the workload.
      type: str
      sample: Deployment
    name:
      description: Name of the workload.
      type: str
    namespace:
      description: Namespace of the workload.
      type: str
    selector:
      description: For a selector that matched nothing, the selector (instead of kind and name).
      type: str
    status:
      description:
        - V(complete), V(failed) (cannot succeed), V(timed_out), V(missing) (not found),
          V(not_waited) (OnDelete strategy, paused Deployment, suspended Job), or in check mode
          also V(progressing).
      type: str
      sample: failed
    reason:
      description: Why, as a Kubernetes reason, for example C(CrashLoopBackOff), C(ImagePullBackOff),
        C(Unschedulable), C(FailedCreate), C(ProgressDeadlineExceeded), C(BackoffLimitExceeded),
        C(ReadinessProbeFailed), C(NotFound).
      type: str
    message:
      description: The target's line of RV(msg).
      type: str
    revision:
      description: The revision rolled out (Deployment revision annotation, ControllerRevision
        number for StatefulSets and DaemonSets); null for Jobs.
      type: int
    waited_seconds:
      description: Seconds this call waited for the target.
      type: float
    spec_to_ready_seconds:
      description: Seconds from the last write to the workload's spec to the rollout being
        ready, from the API server's timestamps (1 s resolution); null unless complete.
      type: float
    diagnosis:
      description: For a target that is not complete.
      type: dict
      contains:
        pods:
          description: New-revision pods first, each with phase, node, readiness, the problem found
            and every container's state, last state, exit code and restart count.
          type: list
          elements: dict
        events:
          description: Events about the workload, its new ReplicaSet and new pods, repeats folded
            into one with a count, newest last.
          type: list
          elements: dict
        logs:
          description: Log tails of the failing containers (C(previous) for a restarted one), or
            C(unavailable) with the reason when the log cannot be read.
          type: list
          elements: dict
    rollback:
      description: With O(rollback_on_failure) after a failure, the rollback's outcome
        (C(status), C(to_revision), C(waited_seconds), C(message), C(diagnosis)); C(status) is
        V(not_rolled_back) with the reason when there was nothing to roll back to.
      type: dict
      returned: when a rollback was attempted
"""

from ansible.module_utils.kube_module import k8s_module
from ansible.module_utils.rollout_kube import ApiError, connect
from ansible.module_utils.rollout_targets import (
    DEFAULT_SELECTOR_KINDS,
    TargetError,
    parse_selector_spec,
    parse_targets,
)
from ansible.module_utils.rollout_waiter import (
    FAILING,
    PROGRESS_OPTIONS,
    Options,
    WaitError,
    Waiter,
    progress_appender,
    progress_every,
)

OPTIONS_SPEC = dict(
    targets=dict(type="list", elements="raw"),
    selector=dict(type="raw"),
    kinds=dict(type="list", elements="str", default=list(DEFAULT_SELECTOR_KINDS)),
    namespace=dict(type="str", default="default"),
    timeout=dict(type="int", default=300),
    wait_for_creation=dict(type="int", default=0),
    restart_threshold=dict(type="int", default=2),
    log_lines=dict(type="int", default=20),
    rollback_on_failure=dict(type="bool", default=False),
    rollback_timeout=dict(type="int"),
    no_progress_timeout=dict(type="int", default=0),
    **PROGRESS_OPTIONS,
)


def _summary(results: list) -> str:
    failing = [r["message"] for r in results if r["status"] in FAILING]
    if failing:
        return "; ".join(failing)
    return "; ".join(r["message"] for r in results)


def _check_numbers(params: dict) -> None:
    for name in ("timeout", "wait_for_creation", "restart_threshold", "log_lines", "rollback_timeout",
                 "no_progress_timeout"):
        value = params.get(name)
        if value is not None and value < 0:
            raise TargetError(f"{name} must not be negative, got {value}")
    if params["timeout"] == 0:
        raise TargetError("timeout must be at least 1 second")
    if params["restart_threshold"] == 0:
        raise TargetError("restart_threshold must be at least 1")


def main():
    module = k8s_module(OPTIONS_SPEC, required_one_of=[("targets", "selector")])
    params = module.params
    try:
        _check_numbers(params)
        targets = parse_targets(params["targets"], params["namespace"])
        selector = parse_selector_spec(params["selector"], params["kinds"], params["namespace"])
        if not targets and not selector:
            raise TargetError("nothing to wait for: give targets or a selector")
    except TargetError as err:
        module.fail_json(msg=str(err))
    options = Options(
        timeout=params["timeout"],
        wait_for_creation=params["wait_for_creation"],
        restart_threshold=params["restart_threshold"],
        log_lines=params["log_lines"],
        rollback_on_failure=params["rollback_on_failure"],
        rollback_timeout=params["rollback_timeout"],
        no_progress_timeout=params["no_progress_timeout"],
        progress_every=progress_every(params),
    )
    try:
        waiter = Waiter(connect(module), targets, [selector] if selector else [], options,
                        progress=progress_appender(params["progress_path"]))
        outcome = waiter.snapshot() if module.check_mode else waiter.wait()
    except (WaitError, ApiError) as err:
        module.fail_json(msg=str(err), changed=False, targets=[])
    for warning in outcome.warnings:
        module.warn(warning)
    result = dict(changed=outcome.changed, targets=outcome.results, msg=_summary(outcome.results))
    if not module.check_mode:
        result["watch_restarts"] = outcome.watch_restarts
    if not module.check_mode and any(r["status"] in FAILING for r in outcome.results):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
