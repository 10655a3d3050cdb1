"""Talk to the API server: requests with errors an operator can act on, and informers.

Thin on purpose, no rollout decisions here. Every request goes through the ApiClient that
kubernetes.core builds from the module's connection options, so kubeconfig, contexts, tokens,
certificates, proxies and impersonation behave exactly as in kubernetes.core.k8s.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

try:
    import urllib3
    from kubernetes.client.exceptions import ApiException
except ImportError:  # the module reports the missing library before anything here runs
    urllib3 = None
    ApiException = Exception
try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # likewise
    get_api_client = None
    CoreException = Exception

FIELD_MANAGER = "slipway-rollout-wait"
LIST_PAGE = 500
# The server ends each watch after this long; reconnecting from the last resourceVersion is free.
WATCH_SECONDS = 240
# A watch is idle between events, so only a read this long without a byte (bookmarks included)
# means the connection died silently.
WATCH_READ_GRACE = 90
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0
# How long an informer keeps retrying a server it has never listed from before giving up.
FIRST_LIST_GRACE = 10.0


class ApiError(Exception):
    """A request failed; the text says what was asked and why it was refused, never a secret."""


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: what a create names exists already."""


class Gone(ApiError):
    """The resourceVersion is older than the server keeps: list again."""


class Unreachable(ApiError):
    """The API server did not answer or is restarting: worth retrying."""


@dataclass(frozen=True)
class ResourceType:
    prefix: str
    plural: str

    @classmethod
    def of(cls, api_version: str, plural: str) -> "ResourceType":
        """The type of `plural` in `api_version` (`v1` is the core group's)."""
        return cls("/api/v1" if api_version == "v1" else f"/apis/{api_version}", plural)

    @property
    def group(self) -> str:
        parts = self.prefix.strip("/").split("/")
        return parts[1] if parts[0] == "apis" else ""

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        """The object's or collection's path; no namespace: a cluster-scoped type's."""
        path = f"{self.prefix}/namespaces/{namespace}/{self.plural}" if namespace else f"{self.prefix}/{self.plural}"
        if name:
            path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
        return path


PODS = ResourceType("/api/v1", "pods")
EVENTS = ResourceType("/api/v1", "events")
REPLICASETS = ResourceType("/apis/apps/v1", "replicasets")
CONTROLLERREVISIONS = ResourceType("/apis/apps/v1", "controllerrevisions")
# Objects read only for what they say of a workload's rollout: who last wrote which field is
# never read from them (it is from the workloads), and on pods it is a third of the object.
WITHOUT_MANAGED_FIELDS = (PODS, EVENTS, REPLICASETS, CONTROLLERREVISIONS)


def _status_message(raw) -> str:
    try:
        body = json.loads(raw.data or b"{}")
    except ValueError:
        return (raw.data or b"").decode("utf-8", "replace").strip()[:300]
    return body.get("message") or raw.reason or ""


def _transport_problem(err: Exception) -> str:
    reason = getattr(err, "reason", None) or err
    return f"{type(reason).__name__}: {reason}"


def connect(module) -> "KubeApi":
    """The client kubernetes.core.k8s would use: its connection options, then K8S_AUTH_* variables."""
    try:
        client = get_api_client(module=module)
    except CoreException as err:
        raise ApiError(str(err)) from err
    except Exception as err:  # the discovery request get_api_client makes can fail many ways
        status = getattr(err, "status", None)
        if status == 401:
            raise Unauthorized("authentication failed (401 Unauthorized): check the kubeconfig, "
                               "context, api_key or client certificate") from err
        raise ApiError(f"cannot connect to the API server: {type(err).__name__}: "
                       f"{getattr(err, 'reason', None) or err}") from err
    return KubeApi(client.client.client)


class KubeApi:
    def __init__(self, api_client, request_timeout: float = 30.0):
        self._client = api_client
        self._timeout = request_timeout

    @property
    def host(self) -> str:
        return self._client.configuration.host

    def _open(self, method: str, path: str, verb: str, what: str, namespace: str,
              query=(), body=None, content_type: str | None = None, timeout=None,
              accept: str = "application/json"):
        """Send one request and return the unread urllib3 response, or raise an ApiError."""
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            request = self._client.param_serialize(
                method, path, query_params=list(query), header_params=headers, body=body,
                auth_settings=["BearerToken"])
            response = self._client.call_api(*request, _request_timeout=timeout or self._timeout)
        except ApiException as err:  # TLS failures are raised this way, with status 0
            raise ApiError(f"cannot talk to the API server at {self.host}: {err.reason}") from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            if isinstance(getattr(err, "reason", None), urllib3.exceptions.SSLError):
                raise ApiError(f"TLS error talking to {self.host}: {err.reason}") from err
            raise Unreachable(f"cannot reach the API server at {self.host}: "
                              f"{_transport_problem(err)}") from err
        raw = response.response
        if 200 <= raw.status < 300:
            return raw
        message = _status_message(raw)
        raw.release_conn()
        where = f" in namespace {namespace}" if namespace else ""
        if raw.status == 401:
            raise Unauthorized(f"authentication failed (401 Unauthorized) at {self.host}: check "
                               "the kubeconfig, context, api_key or client certificate")
        if raw.status == 403:
            raise Forbidden(f"RBAC denied: cannot {verb} {what}{where}: {message}")
        if raw.status == 404:
            raise NotFound(f"{verb} {what}{where}: not found: {message}")
        if raw.status == 409:
            raise Conflict(f"{verb} {what}{where} failed (409): {message}")
        if raw.status == 410:
            raise Gone(message)
        if raw.status == 429 or raw.status >= 500:
            raise Unreachable(f"API server answered {raw.status} to {verb} {what}{where}: {message}")
        raise ApiError(f"{verb} {what}{where} failed ({raw.status}): {message}")

    def _json(self, raw) -> dict:
        try:
            return json.loads(raw.data)
        finally:
            raw.release_conn()

    def list(self, rtype: ResourceType, namespace: str, label_selector: str = "") -> tuple[list, str]:
        """All objects of a type in a namespace (those a label selector picks, if given), and
        the resourceVersion to watch from."""
        items, token = [], None
        while True:
            query = [("limit", LIST_PAGE)] + ([("continue", token)] if token else [])
            if label_selector:
                query.append(("labelSelector", label_selector))
            page = self._json(self._open("GET", rtype.path(namespace), "list", rtype.plural,
                                         namespace, query))
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, page["metadata"]["resourceVersion"]

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict:
        return self._json(self._open("GET", rtype.path(namespace, name), "get", rtype.plural,
                                     namespace))

    def watch(self, rtype: ResourceType, namespace: str, resource_version: str):
        """Open a watch now (so errors surface here) and return an iterator over its events."""
        query = [("watch", "true"), ("resourceVersion", resource_version),
                 ("allowWatchBookmarks", "true"), ("timeoutSeconds", WATCH_SECONDS)]
        raw = self._open("GET", rtype.path(namespace), "watch", rtype.plural, namespace, query,
                         timeout=(self._timeout, WATCH_SECONDS + WATCH_READ_GRACE))
        return self._events(raw)

    def _events(self, raw):
        pending = b""
        try:
            for chunk in raw.stream(amt=None, decode_content=True):
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise Unreachable(f"watch connection to {self.host} dropped: "
                              f"{_transport_problem(err)}") from err
        finally:
            raw.release_conn()

    def patch(self, rtype: ResourceType, namespace: str, name: str, body, content_type: str) -> dict:
        return self._json(self._open("PATCH", rtype.path(namespace, name), "patch", rtype.plural,
                                     namespace, [("fieldManager", FIELD_MANAGER)], body=body,
                                     content_type=content_type))

    def api_groups(self) -> set[str]:
        """The names of the API groups the server serves (one GET /apis)."""
        found = self._json(self._open("GET", "/apis", "list", "API groups", ""))
        return {group["name"] for group in found.get("groups") or []}

    def get_or_none(self, rtype: ResourceType, namespace: str, name: str) -> dict | None:
        try:
            return self.get(rtype, namespace, name)
        except NotFound:
            return None

    def apply(self, rtype: ResourceType, namespace: str, name: str, body: dict, field_manager: str,
              dry_run: bool = False) -> tuple[dict, list[str]]:
        """Server-side apply, taking over fields others changed (force), or its dry run: the
        object as it is (would be) stored, and the server's warnings (Pod Security's among them)."""
        query = [("fieldManager", field_manager), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
        raw = self._open("PATCH", rtype.path(namespace, name), "dry-run apply" if dry_run else "apply",
                         f"{rtype.plural}/{name}", namespace, query, body=json.dumps(body),
                         content_type="application/apply-patch+yaml")
        warnings = raw.headers.getlist("Warning") if hasattr(raw.headers, "getlist") else []
        return self._json(raw), warnings

    def create(self, rtype: ResourceType, namespace: str, body: dict) -> dict:
        """POST a new object: for what can only be created (a ProjectRequest, an access review)."""
        what = rtype.plural + (f"/{body['metadata']['name']}" if body.get("metadata", {}).get("name") else "")
        return self._json(self._open("POST", rtype.path(namespace), "create", what, namespace,
                                     body=body, content_type="application/json"))

    def delete(self, rtype: ResourceType, namespace: str, name: str, propagation: str = "") -> None:
        query = [("propagationPolicy", propagation)] if propagation else []
        try:
            self._open("DELETE", rtype.path(namespace, name), "delete", rtype.plural,
                       namespace, query).release_conn()
        except NotFound:
            pass  # gone already: what deleting it was for

    def log_tail(self, namespace: str, pod: str, container: str, lines: int,
                 previous: bool) -> list[str]:
        query = [("container", container), ("tailLines", lines), ("limitBytes", 65536)]
        if previous:
            query.append(("previous", "true"))
        raw = self._open("GET", PODS.path(namespace, pod, "log"), "get", "pods/log", namespace,
                         query, timeout=(5, 10), accept="*/*")
        try:
            return raw.data.decode("utf-8", "replace").splitlines()
        finally:
            raw.release_conn()


class Backoff:
    def __init__(self):
        self._next = BACKOFF_FIRST

    def reset(self):
        self._next = BACKOFF_FIRST

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, BACKOFF_MAX)
        return delay


class Informer:
    """A live copy of one resource type in one namespace, kept by list + watch.

    Watches resume from the last resourceVersion seen (bookmarks keep it fresh); a 410 Gone
    means the server no longer has that version, so the copy is listed again; a dropped
    connection or a restarting API server is retried with a short back-off, for as long as the
    caller waits. Only errors no retry can fix (credentials, RBAC), or a server that never
    answered at all, stop it.
    """

    def __init__(self, api: KubeApi, rtype: ResourceType, namespace: str, on_change,
                 sleep=time.sleep):
        self.rtype = rtype
        self.namespace = namespace
        self.synced = threading.Event()
        self.fatal: ApiError | None = None
        self.last_error = ""
        self.restarts = 0
        self._api = api
        self._on_change = on_change
        self._sleep = sleep
        self._items: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._version: str | None = None
        self._stopped = threading.Event()
        self._backoff = Backoff()
        self._unlisted_for = 0.0

    def items(self) -> list:
        with self._lock:
            return list(self._items.values())

    def sync(self) -> None:
        """List once; the whole copy is replaced, as objects may have gone while unwatched."""
        items, version = self._api.list(self.rtype, self.namespace)
        with self._lock:
            self._items = {item["metadata"]["uid"]: self._kept(item) for item in items}
        self._version = version
        self.synced.set()
        self._on_change()

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"watch-{self.rtype.plural}-{self.namespace}",
                         daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.step()
            except Gone:
                self._version = None
                self.restarts += 1
            except Unreachable as err:
                self.last_error = str(err)
                self.restarts += 1
                delay = self._backoff.next()
                if not self.synced.is_set():
                    # Never reached: a wrong address should not cost the whole timeout, but an
                    # API server restarting just as the wait starts is worth a few seconds.
                    self._unlisted_for += delay
                    if self._unlisted_for > FIRST_LIST_GRACE:
                        self._give_up(err)
                        return
                self._sleep(delay)
            except ApiError as err:
                self._give_up(err)
                return

    def step(self) -> None:
        """(Re)list if needed, then follow one watch connection until it ends."""
        if self._version is None:
            self.sync()
        events = self._api.watch(self.rtype, self.namespace, self._version)
        self._backoff.reset()
        self.last_error = ""
        for event in events:
            if self._stopped.is_set():
                return
            self._apply(event)

    def _apply(self, event: dict) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message", "resourceVersion too old"))
            raise Unreachable(f"watch of {self.rtype.plural} ended with an error: "
                              f"{obj.get('message')}")
        meta = obj.get("metadata") or {}
        self._version = meta.get("resourceVersion") or self._version
        if kind == "BOOKMARK":
            return
        with self._lock:
            if kind == "DELETED":
                self._items.pop(meta.get("uid"), None)
            else:
                self._items[meta.get("uid")] = self._kept(obj)
        self._on_change()

    def _kept(self, obj: dict) -> dict:
        if self.rtype in WITHOUT_MANAGED_FIELDS:
            (obj.get("metadata") or {}).pop("managedFields", None)
        return obj

    def _give_up(self, err: ApiError) -> None:
        self.fatal = err
        self._on_change()
