#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy an app model in one step: validate everything, apply in order, wait, prune."""

DOCUMENTATION = r"""
---
module: app_apply
short_description: Deploy slipway's app model, checked by the API server before anything changes
description:
  - Builds the app's objects from the model the C(slipway_app) role makes, C(slipway_app_model),
    that is the namespace with its Pod Security labels, the MongoDB Secret, the data stores'
    StatefulSets and Services, the components' Deployments and Services, the Ingress, the
    HorizontalPodAutoscalers and the one-off Jobs.
  - Server-side dry-runs every object first, so nothing in the namespace changes unless every
    object passes the API server's validation and admission; a Pod Security violation of a
    workload's pods counts as a refusal. A refusal names the variable the object comes from.
  - Then applies (server-side apply, field manager O(field_manager)) only what the dry run says
    would change, in dependency order, waiting for the data stores before the components and for
    the components before the Jobs, with the waiter of M(rollout_wait).
  - Deletes the managed objects the model no longer calls for, found by label; Secrets and
    PersistentVolumeClaims are never deleted.
  - The MongoDB password is generated once into its Secret and kept by every later run; it is
    never returned.
  - In check mode the same dry runs say what would change (the drift check); nothing is written.
  - On OpenShift (the model's platform; C(auto), not yet resolved, is resolved here from the API
    groups) the components with a host get Routes instead of the Ingress, pods name no UID, and
    the namespace, the project's owner's, is not labelled. One the identity cannot read is
    requested as a project (C(project.openshift.io/v1) ProjectRequest, with the model's display
    name and description) when the identity may create C(projectrequests); the API server then
    makes the namespace and binds the requester to C(admin) there, and the deploy goes on once
    access reviews say that binding grants every namespaced permission slipway needs (it appears
    a moment after the request), within O(wait_timeout).
options:
  model:
    description: The app model, C(slipway_app_model).
    type: dict
    required: true
  images:
    description: Image reference per component name (components with their own C(image) need none).
    type: dict
    default: {}
  secrets:
    description:
      - The values of the Secrets the model names (C(slipway_app_secrets)), by Secret name then
        key. Applied as they are on every run, never pruned, never returned.
    type: dict
    default: {}
  registry:
    description:
      - The registry the pods pull from and the credentials of its pull Secret, which the model
        names (C(slipway_app_registry_pull_secret)); applied on every run, never pruned, never
        returned.
    type: dict
    suboptions:
      server:
        description: The registry, C(host[:port]), optionally followed by a path (the path is ignored).
        type: str
        required: true
      username:
        description: The account the nodes pull as.
        type: str
        required: true
      password:
        description: Its password or token.
        type: str
        required: true
  prune:
    description: Delete managed objects the model no longer calls for.
    type: bool
    default: true
  wait_timeout:
    description: Seconds each wait (data stores, components, Jobs) may take.
    type: int
    default: 600
  rollback_on_failure:
    description: Roll a workload whose rollout fails back to its previous revision (the task still fails).
    type: bool
    default: false
  field_manager:
    description: The server-side apply field manager.
    type: str
    default: slipway
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progress
attributes:
  check_mode:
    support: full
    description: Dry runs only; RV(changes) lists what an apply would change.
  diff_mode:
    support: full
    description: Before and after of every object that changes, Secret values hidden.
  idempotent:
    support: full
    description: A second run with the same model and images changes nothing.
author:
  - slipway
"""

EXAMPLES = r"""
- name: Deploy the app
  app_apply:
    model: "{{ slipway_app_model }}"
    images: "{{ image_build_refs }}"
    kubeconfig: "{{ slipway_kubeconfig }}"
  register: deployed

- name: Only say what would change (the drift check)
  app_apply:
    model: "{{ slipway_app_model }}"
    images: "{{ image_build_refs }}"
  check_mode: true
  register: drift
"""

RETURN = r"""
changes:
  description: C(Kind/name) of each object the run changed (or would), pruned ones with C( (pruned)).
  type: list
  elements: str
  returned: always
  sample: [ProjectRequest/shop, Deployment/backend, Job/add-test-content-1a2b3c4d5e, Deployment/old (pruned)]
jobs:
  description: The names of the Jobs of this model (a digest of each one's spec).
  type: list
  elements: str
  returned: always
workloads:
  description: Each described workload's readiness and images after the run.
  type: list
  elements: str
  returned: success
  sample: ["deployment/backend: 2/2 ready, slipway/demo-backend:1a2b"]
urls:
  description: Where the components with an Ingress host answer.
  type: list
  elements: str
  returned: always
targets:
  description: The waits' per-workload results (as M(rollout_wait) returns them).
  type: list
  elements: dict
  returned: when something was waited for
"""

import base64
import secrets
import string
import time

from ansible.module_utils.access_review import expand_permissions, review_all, summarize
from ansible.module_utils.app_deploy import (
    KEEP, ProjectError, change_of, content, origin, pod_security_violations, project_step, project_taken, prunable,
    pull_failed_pods, redacted, ref, workload_summary)
from ansible.module_utils.app_manifests import (
    PatchError, app_objects, mongodb_secret, namespace, project_request, registry_pull_secret, user_secrets)
from ansible.module_utils.app_model import (
    KINDS, NAMESPACE, SECRET, PlatformError, expected_objects, image_refs, permissions, platform_of, with_platform)
from ansible.module_utils.kube_module import k8s_module
from ansible.module_utils.rollout_kube import (
    PODS, ApiError, Backoff, Conflict, Forbidden, NotFound, ResourceType, connect)
from ansible.module_utils.rollout_targets import parse_targets
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
    model=dict(type="dict", required=True),
    images=dict(type="dict", default={}),
    secrets=dict(type="dict", default={}, no_log=True),
    registry=dict(type="dict", options=dict(server=dict(type="str", required=True),
                                            username=dict(type="str", required=True),
                                            password=dict(type="str", required=True, no_log=True))),
    prune=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
    rollback_on_failure=dict(type="bool", default=False),
    field_manager=dict(type="str", default="slipway"),
    **PROGRESS_OPTIONS,
)
PASSWORD_LENGTH = 32
REVIEWS = {kind: ResourceType("/apis/authorization.k8s.io/v1", kind.lower() + "s")
           for kind in ("SelfSubjectRulesReview", "SelfSubjectAccessReview")}


class Refused(Exception):
    """The API server refused an object in a dry run: nothing was changed."""


def _rtype(kind: str) -> ResourceType:
    return ResourceType.of(KINDS[kind].api_version, KINDS[kind].plural)


class Deploy:
    def __init__(self, module, api):
        self.module = module
        self.api = api
        params = module.params
        self.model = params["model"]
        if self.model["platform"] == "auto":
            # A run without the preflight (site.yml --tags deploy) resolves it here.
            try:
                self.model = with_platform(self.model, platform_of("auto", api.api_groups()))
            except PlatformError as err:
                raise Refused(f"{err}; nothing was changed") from err
        self.namespace = self.model["namespace"]
        self.manager = params["field_manager"]
        self.selector = ",".join(f"{k}={v}" for k, v in self.model["selector"].items())
        self.changes: list[str] = []
        self.diffs: list[dict] = []
        self.targets: list[dict] = []
        self._live_secrets: dict = {}
        # Known once the objects are built: every result reports them.
        self.job_names: list[str] = []

    # Reading and applying.
    def live(self) -> dict[tuple[str, str], dict]:
        """Every managed object in the namespace, and the Secret: one list per kind."""
        found = {}
        for kind in self.model["managed_kinds"]:
            for obj in self.api.list(_rtype(kind["kind"]), self.namespace, self.selector)[0]:
                # A list's items carry neither: the list does.
                obj.update(kind=kind["kind"], apiVersion=kind["api_version"])
                found[(kind["kind"], obj["metadata"]["name"])] = obj
        return found

    def dry_run(self, objects: list[dict], live: dict) -> list[dict]:
        """Every object through the API server's validation and admission; the ones that would change."""
        pending = []
        for obj in objects:
            try:
                after, warnings = self.api.apply(_rtype(obj["kind"]), self._ns(obj), obj["metadata"]["name"], obj,
                                                 self.manager, dry_run=True)
            except ApiError as err:
                raise Refused(f"{ref(obj)} (from {origin(self.model, obj)}) refused by the API server, nothing "
                              f"was changed: {err}") from err
            violations = pod_security_violations(warnings)
            if violations:
                raise Refused(f"{ref(obj)} (from {origin(self.model, obj)}): its pods would be refused by the "
                              f"namespace's Pod Security level, nothing was changed: {'; '.join(violations)}")
            before = live.get((obj["kind"], obj["metadata"]["name"]))
            change = change_of(before, after)
            if change:
                pending.append(obj)
                self.changes.append(ref(obj))
                if self.module._diff:
                    self.diffs.append({"before_header": ref(obj), "after_header": ref(obj),
                                       "before": redacted(content(before)) or {}, "after": redacted(content(after))})
        return pending

    def apply(self, objects: list[dict]) -> None:
        if self.module.check_mode:
            return
        for obj in objects:
            self.api.apply(_rtype(obj["kind"]), self._ns(obj), obj["metadata"]["name"], obj, self.manager)

    def retry_pulls(self) -> None:
        """A new pull Secret is tried at once: the pods whose pull failed go, their controllers
        make new ones (a pod that failed to pull has never run, so nothing is lost)."""
        if self.module.check_mode:
            return
        pods = self.api.list(PODS, self.namespace, self.selector)[0]
        for name in pull_failed_pods(pods):
            self.api.delete(PODS, self.namespace, name)

    def _ns(self, obj: dict) -> str:
        return "" if obj["kind"] == NAMESPACE.kind else self.namespace

    def wait(self, kind: str, names: list[str]) -> None:
        if self.module.check_mode or not names:
            return
        params = self.module.params
        options = Options(timeout=params["wait_timeout"], rollback_on_failure=params["rollback_on_failure"],
                          progress_every=progress_every(params))
        targets = parse_targets([f"{kind}/{name}" for name in names], self.namespace)
        outcome = Waiter(self.api, targets, [], options, progress=progress_appender(params["progress_path"])).wait()
        for warning in outcome.warnings:
            self.module.warn(warning)
        self.targets.extend(outcome.results)
        failing = [r["message"] for r in outcome.results if r["status"] in FAILING]
        if failing:
            self.fail("; ".join(failing))

    # An OpenShift project.
    def _reviews(self, entries: list[dict]) -> dict:
        """What access reviews say of the identity's `entries` (permissions) in the namespace."""
        checks = expand_permissions(entries, self.namespace)
        return summarize(checks, review_all(checks, self.namespace,
                                            lambda body: self.api.create(REVIEWS[body["kind"]], "", body)["status"]))

    def _namespace_visible(self) -> bool:
        try:
            self.api.get(_rtype(NAMESPACE.kind), "", self.namespace)
        except (Forbidden, NotFound):
            return False
        return True

    def request_project(self) -> bool:
        """The project's namespace, requested when the identity cannot read it (and may ask for
        it); True when it was (or, in check mode, would be) requested."""
        granted = permissions(self.model)
        makers = [entry for entry in granted if entry.get("creates_namespace")]
        visible = self._namespace_visible()
        try:
            step = project_step(self.namespace, visible, visible or not self._reviews(makers)["missing"])
        except ProjectError as err:
            raise Refused(f"{err}; nothing was changed") from err
        if step == KEEP:
            return False
        request = project_request(self.model)
        self.changes.append(ref(request))
        if self.module.check_mode:
            return True
        try:
            self.api.create(_rtype(request["kind"]), "", request)
        except Conflict as err:
            raise Refused(f"{project_taken(self.namespace)}; nothing was changed") from err
        # The requester's admin binding reaches the authorizer a moment after the request
        # returns: the deploy goes on once the reviews say it grants what the deploy needs.
        inside = [entry for entry in granted if not entry.get("cluster")]
        deadline, backoff = time.monotonic() + self.module.params["wait_timeout"], Backoff()
        while True:
            missing = self._reviews(inside)["missing"]
            if not missing:
                return True
            if time.monotonic() > deadline:
                self.fail(f"project {self.namespace} was requested, but its admin role still does not let this identity "
                          f"do what the deploy needs: {'; '.join(missing)} (the cluster's project template binds the "
                          "requester: ask its admin)")
            time.sleep(backoff.next())

    # The steps.
    def run(self) -> dict:
        model = self.model
        if model["platform"] == "openshift":
            # An OpenShift project is its owner's (oc new-project): its namespace is not ours to label.
            absent = self.request_project()
        else:
            ns_object = namespace(model)
            ns_live = self.api.get_or_none(_rtype(NAMESPACE.kind), "", self.namespace)
            pending_ns = self.dry_run([ns_object], {("Namespace", self.namespace): ns_live} if ns_live else {})
            absent = ns_live is None
            self.apply(pending_ns)
        if absent and self.module.check_mode:
            # Nothing in a namespace that does not exist can be dry-run: all of it would be created.
            self.changes.extend(ref(obj) for obj in self._objects({}))
            return self.result(f"namespace {self.namespace} does not exist yet: everything would be created")
        live = self.live()
        replicas = {name: obj["spec"].get("replicas") for (kind, name), obj in live.items() if kind == "Deployment"}
        secrets = ([self._secret()] if model["has_mongodb"] else []) + self._user_secrets() + self._pull_secret()
        objects = self._objects(replicas)
        pending = self.dry_run(secrets + objects, {**live, **self._live_secrets})
        # The steps, each waited for before the next: Secrets; the data stores; the components
        # (their files, Services, the Ingress, HPAs and PDBs with them); the Jobs.
        store_refs = {f"{kind}/{s['name']}" for s in model["datastores"] for kind in ("Service", "StatefulSet")}
        steps = [([obj for obj in pending if obj["kind"] == "Secret"], None),
                 ([obj for obj in pending if ref(obj) in store_refs],
                  ("statefulset", [s["name"] for s in model["datastores"]])),
                 ([obj for obj in pending if obj["kind"] not in ("Secret", "Job") and ref(obj) not in store_refs],
                  ("deployment", [c["name"] for c in model["components"]])),
                 ([obj for obj in pending if obj["kind"] == "Job"], ("job", self.job_names))]
        for step, waited in steps:
            self.apply(step)
            if any(ref(obj) == f"Secret/{model.get('registry_pull_secret')}" for obj in step):
                self.retry_pulls()
            if waited:
                self.wait(*waited)
        if self.module.params["prune"]:
            self.prune(live, self.job_names)
        return self.result()

    def _images(self) -> dict:
        refs = image_refs(self.model, self.module.params["images"])
        missing = sorted(name for name, image in refs.items() if not image)
        if missing:
            self.fail(f"No image for {', '.join(missing)}: give it `image:` in slipway_app_components or build it "
                      "(image_build role, app_deploy_images)")
        return refs

    def _objects(self, replicas: dict) -> list[dict]:
        try:
            objects = app_objects(self.model, self._images(), replicas)
        except PatchError as err:
            raise Refused(f"{err}; nothing was changed") from err
        self.job_names = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Job"]
        return objects

    def _read_secret(self, name: str) -> dict | None:
        found = self.api.get_or_none(_rtype(SECRET.kind), self.namespace, name)
        if found:
            found.setdefault("kind", SECRET.kind)
            self._live_secrets[(SECRET.kind, name)] = found
        return found

    def _user_secrets(self) -> list[dict]:
        values = self.module.params["secrets"]
        missing = sorted(set(self.model["secrets"]) - set(values))
        if missing:
            raise Refused(f"No values for the Secrets {', '.join(missing)} (slipway_app_secrets); nothing was changed")
        for name in self.model["secrets"]:
            self._read_secret(name)
        return user_secrets(self.model, values)

    def _pull_secret(self) -> list[dict]:
        name, registry = self.model.get("registry_pull_secret"), self.module.params["registry"]
        if not name:
            return []
        if not registry or not registry["username"]:
            raise Refused(f"slipway_app_registry_pull_secret names the Secret {name}, but no registry credentials "
                          "were given (the registry option); nothing was changed")
        self._read_secret(name)
        secret = registry_pull_secret(self.model, registry)
        self.module._module.no_log_values.add(secret["data"][".dockerconfigjson"])
        return [secret]

    def _secret(self) -> dict:
        """The MongoDB Secret: the password the data already uses, or a new one."""
        existing = ((self._read_secret("mongodb") or {}).get("data") or {}).get("password.txt")
        if not existing:
            alphabet = string.ascii_letters + string.digits
            existing = base64.b64encode("".join(secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH)).encode()).decode()
        # Masked in anything the module returns, should an error ever quote the object.
        self.module._module.no_log_values.update({existing, base64.b64decode(existing).decode()})
        return mongodb_secret(self.model, existing)

    def prune(self, live: dict, job_names: list[str]) -> None:
        expected = expected_objects(self.model, job_names)
        for obj in prunable(list(live.values()), expected):
            self.changes.append(f"{ref(obj)} (pruned)")
            if self.module._diff:
                self.diffs.append({"before_header": ref(obj), "after_header": "(pruned)",
                                   "before": redacted(content(obj)), "after": {}})
            if not self.module.check_mode:
                self.api.delete(_rtype(obj["kind"]), self.namespace, obj["metadata"]["name"], propagation="Background")

    def summary(self) -> list[str]:
        if self.module.check_mode:
            return []
        described = set(self.model["workloads"])
        lines = []
        for kind in ("Deployment", "StatefulSet"):
            for obj in self.api.list(_rtype(kind), self.namespace, self.selector)[0]:
                if obj["metadata"]["name"] in described:
                    lines.append(workload_summary({**obj, "kind": kind}))
        return lines

    def result(self, note: str = "") -> dict:
        result = dict(changed=bool(self.changes), changes=self.changes, urls=self.model["urls"],
                      jobs=self.job_names,
                      workloads=self.summary(), targets=self.targets)
        if note:
            result["msg"] = note
        if self.module._diff:
            result["diff"] = self.diffs
        return result

    def fail(self, message: str) -> None:
        self.module.fail_json(msg=message, changed=bool(self.changes) and not self.module.check_mode,
                              changes=self.changes, targets=self.targets)


def main():
    module = k8s_module(OPTIONS_SPEC)
    try:
        deploy = Deploy(module, connect(module))
        module.exit_json(**deploy.run())
    except Refused as err:
        module.fail_json(msg=str(err), changed=False, changes=[])
    except (ApiError, WaitError) as err:
        module.fail_json(msg=str(err), changed=False)


if __name__ == "__main__":
    main()
