"""An OpenShift shape for some of the sandbox's namespaces, made of real Kubernetes machinery only.

It checks slipway's manifests against the OpenShift rules they must meet; it is not OpenShift:
- the Route API (route.openshift.io/v1), served by a CRD written from the documented Route v1
  schema, as MicroShift serves it; no router admits or serves them here;
- in a namespace labelled SCC_LABEL, with a UID range annotated as OpenShift annotates every
  project (UID_RANGE, SUPPLEMENTAL_GROUPS), restricted-v2's pod rules that matter to slipway:
  a MutatingAdmissionPolicy gives a pod that names no UID (or fsGroup) the first of the range,
  as the SCC admission does, and a ValidatingAdmissionPolicy refuses a UID or fsGroup outside
  the range, a container that keeps a capability or may escalate its privileges.
- ProjectRequests (project.openshift.io/v1), which a user who may not create Namespaces sends to
  get one: on OpenShift an API of the API server itself, create-only, that makes the project and
  binds the requester to `admin` there before it answers. Here a stand-in: a CRD stores the
  request, a MutatingAdmissionPolicy records who sent it (request.userInfo.username, as
  OpenShift records the requester), and a reconciler of the sandbox's (slipway_sandbox.projects,
  a host process) makes the namespace, with this shape's labels and a UID range of its own, and
  the requester's RoleBinding to `admin`, then deletes the request. So the namespace and the
  binding appear a moment after the request is answered (as the binding reaches OpenShift's
  authorizer a moment later), and a request for a namespace that exists is not refused at once
  (OpenShift answers 409) but left unanswered: the reconciler hands no existing namespace over.
  `admin` aggregates Routes, as OpenShift's does.
The security.openshift.io group is not served, so slipway's `auto` platform still finds plain
Kubernetes here; a test that wants OpenShift asks for it.
"""

from __future__ import annotations

from .addons import cluster_role

SCC_LABEL = "sandbox.slipway.dev/scc"
UID_RANGE = "openshift.io/sa.scc.uid-range"
SUPPLEMENTAL_GROUPS = "openshift.io/sa.scc.supplemental-groups"
POLICY = "slipway-sandbox-restricted-v2"
# What OpenShift writes on a requested project's namespace.
REQUESTER = "openshift.io/requester"
DISPLAY_NAME = "openshift.io/display-name"
DESCRIPTION = "openshift.io/description"
PROJECTS_GROUP = "project.openshift.io"
REQUESTER_POLICY = "slipway-sandbox-project-requester"
# OpenShift's default UID ranges: blocks of 10000 from 1000000000, one per project.
UID_BASE, UID_BLOCK = 1000000000, 10000


def namespace_annotations(first: int = 1000660000, size: int = UID_BLOCK) -> tuple[dict, dict]:
    """The labels and annotations that give a namespace the shape, as OpenShift's namespace
    controller would annotate a new project."""
    return ({SCC_LABEL: "restricted-v2"},
            {UID_RANGE: f"{first}/{size}", SUPPLEMENTAL_GROUPS: f"{first}/{size}",
             "openshift.io/sa.scc.mcs": "s0:c26,c15"})


def _string(description: str, **extra) -> dict:
    return {"type": "string", "description": description, **extra}


def route_crd() -> dict:
    target = {"type": "object", "required": ["kind", "name"], "properties": {
        "kind": _string("The kind of the backend; only Service.", enum=["Service", ""]),
        "name": _string("The name of the Service."),
        "weight": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 256,
                   "description": "The backend's share of the traffic."}}}
    spec = {"type": "object", "required": ["to"], "properties": {
        "host": _string("The DNS name the route is served at.", maxLength=253),
        "subdomain": _string("A subdomain of the router's domain, when host is empty.", maxLength=253),
        "path": _string("The path the router matches, for HTTP routes."),
        "to": target,
        "alternateBackends": {"type": "array", "maxItems": 3, "items": target},
        "port": {"type": "object", "required": ["targetPort"], "properties": {
            "targetPort": {"x-kubernetes-int-or-string": True,
                           "description": "The Service's target port, by name or number."}}},
        "tls": {"type": "object", "required": ["termination"], "properties": {
            "termination": _string("Where TLS ends.", enum=["edge", "passthrough", "reencrypt"]),
            "insecureEdgeTerminationPolicy": _string("What plain HTTP gets.", enum=["Allow", "None", "Redirect", ""]),
            "certificate": _string("PEM certificate of the route's host."),
            "key": _string("PEM key of that certificate."),
            "caCertificate": _string("PEM CA chain of that certificate."),
            "destinationCACertificate": _string("PEM CA of the backend's certificate (reencrypt)."),
            "externalCertificate": {"type": "object", "properties": {"name": _string("A TLS Secret's name.")}}}},
        "wildcardPolicy": _string("Whether the route covers a wildcard.", enum=["None", "Subdomain", ""]),
        "httpHeaders": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    condition = {"type": "object", "required": ["type", "status"], "properties": {
        "type": _string("Admitted, or UnservableInFutureVersions."),
        "status": _string("True, False or Unknown."),
        "reason": _string("Why, in one word."),
        "message": _string("Why, in words."),
        "lastTransitionTime": {"type": "string", "format": "date-time"}}}
    status = {"type": "object", "properties": {"ingress": {"type": "array", "items": {
        "type": "object", "properties": {
            "host": _string("The host a router serves the route at."),
            "routerName": _string("The router's name."),
            "routerCanonicalHostname": _string("The router's own host name."),
            "wildcardPolicy": _string("The wildcard policy the router applied."),
            "conditions": {"type": "array", "items": condition}}}}}}
    columns = [{"name": "Host", "type": "string", "jsonPath": ".status.ingress[0].host"},
               {"name": "Admitted", "type": "string", "jsonPath": ".status.ingress[0].conditions[?(@.type==\"Admitted\")].status"},
               {"name": "Service", "type": "string", "jsonPath": ".spec.to.name"},
               {"name": "TLS", "type": "string", "jsonPath": ".spec.tls.termination"}]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "routes.route.openshift.io"},
        "spec": {"group": "route.openshift.io", "scope": "Namespaced",
                 "names": {"kind": "Route", "plural": "routes", "singular": "route", "listKind": "RouteList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                               "additionalPrinterColumns": columns,
                               "schema": {"openAPIV3Schema": {"type": "object", "required": ["spec"], "properties": {
                                   "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                   "metadata": {"type": "object"}, "spec": spec, "status": status}}}}]},
    }


# The namespace's range, as restricted-v2 reads it: "first/size".
RANGE_VARIABLES = [
    {"name": "uids", "expression": f"namespaceObject.metadata.annotations['{UID_RANGE}'].split('/')"},
    {"name": "groups", "expression": f"namespaceObject.metadata.annotations['{SUPPLEMENTAL_GROUPS}'].split('/')"},
    {"name": "firstUid", "expression": "int(variables.uids[0])"},
    {"name": "firstGroup", "expression": "int(variables.groups[0])"},
]
MATCH = {"namespaceSelector": {"matchLabels": {SCC_LABEL: "restricted-v2"}},
         "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                            "resources": ["pods"]}]}


def assign_policy() -> list[dict]:
    """What the SCC admission adds: the range's first UID and group, when the pod names none."""
    pod_context = "has(object.spec.securityContext)"
    names_uid = (f"({pod_context} && has(object.spec.securityContext.runAsUser)) || "
                 "object.spec.containers.all(c, has(c.securityContext) && has(c.securityContext.runAsUser))")
    patch = (f"({pod_context} ? [] : [JSONPatch{{op: 'add', path: '/spec/securityContext', "
             "value: Object.spec.securityContext{}}]) + "
             f"(({names_uid}) ? [] : [JSONPatch{{op: 'add', path: '/spec/securityContext/runAsUser', "
             "value: variables.firstUid}]) + "
             f"(({pod_context} && has(object.spec.securityContext.fsGroup)) ? [] : "
             "[JSONPatch{op: 'add', path: '/spec/securityContext/fsGroup', value: variables.firstGroup}])")
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
         "metadata": {"name": POLICY},
         "spec": {"matchConstraints": MATCH, "failurePolicy": "Fail", "reinvocationPolicy": "Never",
                  "variables": RANGE_VARIABLES,
                  "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": patch}}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
         "metadata": {"name": POLICY}, "spec": {"policyName": POLICY}},
    ]


def restrict_policy() -> list[dict]:
    """restricted-v2's rules that matter to slipway, checked after the assignment."""
    def in_range(value: str, kind: str) -> str:
        return f"({value} >= variables.first{kind} && {value} < variables.first{kind} + variables.{kind.lower()}Count)"

    containers = "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])"
    pod = "object.spec.securityContext"
    validations = [
        {"expression": f"!has({pod}) || !has({pod}.runAsUser) || {in_range(pod + '.runAsUser', 'Uid')}",
         "messageExpression": f"'runAsUser ' + string({pod}.runAsUser) + ' is not in the namespace range ' + "
                              f"namespaceObject.metadata.annotations['{UID_RANGE}']",
         "reason": "Forbidden"},
        {"expression": "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.runAsUser) || "
                       f"{in_range('c.securityContext.runAsUser', 'Uid')})",
         "message": "a container's runAsUser is not in the namespace range", "reason": "Forbidden"},
        {"expression": f"!has({pod}) || !has({pod}.fsGroup) || {in_range(pod + '.fsGroup', 'Group')}",
         "messageExpression": f"'fsGroup ' + string({pod}.fsGroup) + ' is not in the namespace range ' + "
                              f"namespaceObject.metadata.annotations['{SUPPLEMENTAL_GROUPS}']",
         "reason": "Forbidden"},
        {"expression": "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.capabilities) && "
                       "has(c.securityContext.capabilities.drop) && 'ALL' in c.securityContext.capabilities.drop)",
         "message": "every container must drop ALL capabilities", "reason": "Forbidden"},
        {"expression": "variables.containers.all(c, has(c.securityContext) && "
                       "has(c.securityContext.allowPrivilegeEscalation) && !c.securityContext.allowPrivilegeEscalation)",
         "message": "no container may allow privilege escalation", "reason": "Forbidden"},
    ]
    counts = [{"name": "uidCount", "expression": "int(variables.uids[1])"},
              {"name": "groupCount", "expression": "int(variables.groups[1])"},
              {"name": "containers", "expression": containers}]
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": POLICY},
         "spec": {"matchConstraints": MATCH, "failurePolicy": "Fail", "variables": RANGE_VARIABLES + counts,
                  "validations": validations}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": POLICY}, "spec": {"policyName": POLICY, "validationActions": ["Deny"]}},
    ]


def project_request_crd() -> dict:
    """ProjectRequest as OpenShift's API takes it: cluster-scoped, a name, a display name and a
    description (no spec)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"projectrequests.{PROJECTS_GROUP}"},
        "spec": {"group": PROJECTS_GROUP, "scope": "Cluster",
                 "names": {"kind": "ProjectRequest", "plural": "projectrequests", "singular": "projectrequest",
                           "listKind": "ProjectRequestList"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                   "metadata": {"type": "object"},
                                   "displayName": _string("The project's name for people."),
                                   "description": _string("What the project is for.")}}}}]},
    }


def requester_policy() -> list[dict]:
    """Who sent a ProjectRequest, recorded on it at admission, where no client can forge it."""
    mutation = (f"Object{{metadata: Object.metadata{{annotations: {{'{REQUESTER}': request.userInfo.username}}}}}}")
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
         "metadata": {"name": REQUESTER_POLICY},
         "spec": {"matchConstraints": {"resourceRules": [
                      {"apiGroups": [PROJECTS_GROUP], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["projectrequests"]}]},
                  "failurePolicy": "Fail", "reinvocationPolicy": "Never",
                  "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": mutation}}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
         "metadata": {"name": REQUESTER_POLICY}, "spec": {"policyName": REQUESTER_POLICY}},
    ]


def admin_aggregates_routes() -> dict:
    """OpenShift's `admin` covers Routes (a project's admin may expose it); Kubernetes' does not."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "slipway-sandbox:aggregate-routes-to-admin",
                         "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
            "rules": [{"apiGroups": ["route.openshift.io"], "resources": ["routes"],
                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
                      {"apiGroups": ["route.openshift.io"], "resources": ["routes/custom-host"], "verbs": ["create"]},
                      {"apiGroups": ["route.openshift.io"], "resources": ["routes/status"],
                       "verbs": ["get", "list", "watch"]}]}


# What the reconciler (slipway_sandbox.projects) may do: read and consume the requests, make
# namespaces, and bind `admin` (RBAC lets it grant that role only with `bind` on it).
RECONCILER_RULES = [
    {"apiGroups": [PROJECTS_GROUP], "resources": ["projectrequests"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch", "create"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
     "resourceNames": ["admin"]},
]


def free_uid_range(namespaces: list[dict]) -> int:
    """The first UID of the lowest block no namespace has, as OpenShift gives each project its own."""
    taken = set()
    for namespace in namespaces:
        annotated = (namespace["metadata"].get("annotations") or {}).get(UID_RANGE, "")
        first = annotated.split("/")[0]
        if first.isdigit():
            taken.add(int(first))
    first = UID_BASE
    while first in taken:
        first += UID_BLOCK
    return first


def project_namespace(request: dict, first_uid: int) -> dict:
    """The namespace a request makes: this shape's labels and the UID range, the requester and
    what the request says of the project, as OpenShift annotates a project's namespace; Pod
    Security `restricted` enforced, as the tests' hand-made projects have it."""
    labels, annotations = namespace_annotations(first_uid)
    said = {key: request[field] for key, field in ((DISPLAY_NAME, "displayName"), (DESCRIPTION, "description"))
            if request.get(field)}
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": request["metadata"]["name"],
                         "labels": {**labels, "pod-security.kubernetes.io/enforce": "restricted"},
                         "annotations": {**annotations, REQUESTER: requester_of(request), **said}}}


def requester_of(request: dict) -> str:
    """Who sent the request ("" when the policy did not see it: made before the policy was)."""
    return (request["metadata"].get("annotations") or {}).get(REQUESTER, "")


def admin_binding(request: dict) -> dict:
    """The requester made the project's admin, as OpenShift's default project template binds it
    (by user name, which a ServiceAccount's token authenticates as too)."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "admin", "namespace": request["metadata"]["name"]},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": requester_of(request)}]}


def cluster_objects() -> list[dict]:
    return [route_crd(), *assign_policy(), *restrict_policy(), project_request_crd(), *requester_policy(),
            admin_aggregates_routes(), *cluster_role("projects", RECONCILER_RULES)]
