"""The API layer: error translation, list paging, watch streams, and informers that survive
410 Gone, dropped connections and API server restarts."""

import json
from types import SimpleNamespace

import pytest
import urllib3

from ansible.module_utils.rollout_kube import (
    PODS,
    ApiError,
    Forbidden,
    Gone,
    Informer,
    KubeApi,
    NotFound,
    ResourceType,
    Unauthorized,
    Unreachable,
)
from ansible.module_utils.rollout_rollback import STRATEGIC_MERGE_PATCH

HOST = "https://127.0.0.1:16443"


class FakeResponse:
    def __init__(self, status=200, body=None, chunks=(), reason="OK"):
        self.status = status
        self.reason = reason
        self.data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        self._chunks = chunks
        self.released = False

    def stream(self, amt=None, decode_content=None):
        for chunk in self._chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    def release_conn(self):
        self.released = True


class FakeApiClient:
    """Stands in for kubernetes.client.ApiClient: records requests, replays responses."""

    def __init__(self, *responses):
        self.configuration = SimpleNamespace(host=HOST, api_key={"authorization": "Bearer secret-token"})
        self.responses = list(responses)
        self.requests = []

    def param_serialize(self, method, path, query_params, header_params, body, auth_settings):
        self.requests.append(SimpleNamespace(method=method, path=path, query=dict(query_params),
                                             headers=header_params, body=body))
        return method, HOST + path, header_params, body, []

    def call_api(self, method, url, headers, body, post_params, _request_timeout=None):
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return SimpleNamespace(response=response)


def status(code, message):
    return FakeResponse(code, {"kind": "Status", "status": "Failure", "message": message, "code": code})


# --- KubeApi ----------------------------------------------------------------------------------


def test_list_follows_continue_tokens():
    client = FakeApiClient(
        FakeResponse(body={"metadata": {"continue": "abc", "resourceVersion": "5"}, "items": [{"a": 1}]}),
        FakeResponse(body={"metadata": {"resourceVersion": "7"}, "items": [{"b": 2}]}))
    items, version = KubeApi(client).list(PODS, "shop")
    assert items == [{"a": 1}, {"b": 2}]
    assert version == "7"
    assert client.requests[1].query["continue"] == "abc"
    assert client.requests[0].path == "/api/v1/namespaces/shop/pods"


@pytest.mark.parametrize("response, error, text", [
    (status(401, "Unauthorized"), Unauthorized,
     f"authentication failed (401 Unauthorized) at {HOST}: check the kubeconfig"),
    (status(403, 'pods is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource '
                 '"pods" in API group "" in the namespace "shop"'), Forbidden,
     'RBAC denied: cannot list pods in namespace shop: pods is forbidden: User '
     '"system:serviceaccount:ci:deployer" cannot list'),
    (status(404, "the server could not find the requested resource"), NotFound, "not found"),
    (status(410, "too old resource version: 5 (80)"), Gone, "too old resource version"),
    (status(503, "etcd is not ready"), Unreachable, "API server answered 503 to list pods"),
    (status(429, "too many requests"), Unreachable, "answered 429"),
    (status(422, "invalid"), ApiError, "list pods in namespace shop failed (422): invalid"),
    (FakeResponse(500, b"<html>proxy error</html>", reason="Internal"), Unreachable, "<html>proxy error"),
])
def test_refusals_become_errors_an_operator_can_act_on(response, error, text):
    with pytest.raises(error) as caught:
        KubeApi(FakeApiClient(response)).list(PODS, "shop")
    assert type(caught.value) is error
    assert text in str(caught.value)
    assert "secret-token" not in str(caught.value)
    assert response.released


def test_connection_refused_is_unreachable():
    refused = urllib3.exceptions.MaxRetryError(
        None, "/api/v1/namespaces/shop/pods",
        urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: "
                                                    "[Errno 111] Connection refused"))
    with pytest.raises(Unreachable, match=f"cannot reach the API server at {HOST}: "
                                          "NewConnectionError.*Connection refused"):
        KubeApi(FakeApiClient(refused)).list(PODS, "shop")


def test_tls_failure_is_not_retried():
    broken = urllib3.exceptions.MaxRetryError(
        None, "/", urllib3.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(ApiError) as caught:
        KubeApi(FakeApiClient(broken)).list(PODS, "shop")
    assert not isinstance(caught.value, Unreachable)
    assert "TLS error" in str(caught.value)


def test_watch_events_split_across_chunks():
    raw = FakeResponse(chunks=[b'{"type":"ADDED","object":{"metadata":{"name":', b'"a"}}}\n{"type":"DEL',
                               b'ETED","object":{}}\n', b"\n"])
    client = FakeApiClient(raw)
    events = list(KubeApi(client).watch(PODS, "shop", "41"))
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    assert events[0]["object"]["metadata"]["name"] == "a"
    assert client.requests[0].query == {"watch": "true", "resourceVersion": "41",
                                        "allowWatchBookmarks": "true", "timeoutSeconds": 240}
    assert raw.released


def test_watch_connection_dropped_mid_stream_is_unreachable():
    raw = FakeResponse(chunks=[b'{"type":"ADDED","object":{}}\n',
                               urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")])
    events = KubeApi(FakeApiClient(raw)).watch(PODS, "shop", "1")
    assert next(events)["type"] == "ADDED"
    with pytest.raises(Unreachable, match="watch connection .* dropped"):
        next(events)


def test_log_tail_of_the_previous_container():
    client = FakeApiClient(FakeResponse(body=b"line one\nline two\n"))
    lines = KubeApi(client).log_tail("shop", "web-1", "app", 20, previous=True)
    assert lines == ["line one", "line two"]
    request = client.requests[0]
    assert request.path == "/api/v1/namespaces/shop/pods/web-1/log"
    assert request.query["previous"] == "true" and request.query["tailLines"] == 20
    assert request.headers["Accept"] == "*/*"


def test_log_refused_names_the_subresource():
    client = FakeApiClient(status(403, "forbidden"))
    with pytest.raises(Forbidden, match="cannot get pods/log in namespace shop"):
        KubeApi(client).log_tail("shop", "web-1", "app", 20, previous=False)


def test_patch_sends_its_content_type_and_field_manager():
    client = FakeApiClient(FakeResponse(body={"metadata": {"generation": 5}}))
    patched = KubeApi(client).patch(ResourceType("/apis/apps/v1", "statefulsets"), "shop", "db",
                                    {"spec": {}}, STRATEGIC_MERGE_PATCH)
    assert patched["metadata"]["generation"] == 5
    request = client.requests[0]
    assert (request.method, request.path) == ("PATCH", "/apis/apps/v1/namespaces/shop/statefulsets/db")
    assert request.headers["Content-Type"] == STRATEGIC_MERGE_PATCH
    assert request.query["fieldManager"] == "slipway-rollout-wait"


# --- Informer ---------------------------------------------------------------------------------


def obj(name, version):
    return {"metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": version}}


def event(kind, name, version):
    return {"type": kind, "object": obj(name, version)}


class ScriptedApi:
    """Replays list results and watch streams; stops the informer when the script runs out."""

    def __init__(self, lists, watches):
        self.lists = list(lists)
        self.watches = list(watches)
        self.watched_from = []
        self.informer = None

    def list(self, rtype, namespace):
        result = self.lists.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def watch(self, rtype, namespace, version):
        self.watched_from.append(version)
        if not self.watches:
            self.informer.stop()
            return iter(())
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script

        def stream():
            for item in script:
                if isinstance(item, Exception):
                    raise item
                yield item
        return stream()


def run(api):
    changes, sleeps = [], []
    informer = Informer(api, PODS, "shop", lambda: changes.append(1), sleep=sleeps.append)
    api.informer = informer
    informer.run()
    names = sorted(o["metadata"]["name"] for o in informer.items())
    return informer, names, changes, sleeps


def test_list_then_watch_from_the_listed_version():
    api = ScriptedApi(
        lists=[([obj("a", "3"), obj("b", "4")], "10")],
        watches=[[event("ADDED", "c", "11"), event("MODIFIED", "a", "12"), event("DELETED", "b", "13"),
                  {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}}]])
    informer, names, changes, _ = run(api)
    assert names == ["a", "c"]
    # The second watch (after the server closed the first) resumes from the bookmark.
    assert api.watched_from == ["10", "20"]
    updated = next(o for o in informer.items() if o["metadata"]["name"] == "a")
    assert updated["metadata"]["resourceVersion"] == "12"
    assert len(changes) == 4  # the list and three changes; bookmarks change nothing
    assert informer.synced.is_set() and informer.fatal is None


def test_pods_are_kept_without_their_managed_fields_and_workloads_with_them():
    def managed(item):
        item["metadata"]["managedFields"] = [{"manager": "kubectl", "time": "2025-05-06T10:00:00Z"}]
        return item

    listed = ([managed(obj("a", "3"))], "10")
    watched = [{"type": "MODIFIED", "object": managed(obj("a", "11"))}]
    pods, _, _, _ = run(ScriptedApi(lists=[listed], watches=[watched]))
    assert [o["metadata"].get("managedFields") for o in pods.items()] == [None]

    deployments = Informer(ScriptedApi(lists=[([managed(obj("web", "3"))], "10")], watches=[]),
                           ResourceType("/apis/apps/v1", "deployments"), "shop", lambda: None)
    deployments.sync()
    # spec_changed_at reads them there.
    assert deployments.items()[0]["metadata"]["managedFields"][0]["manager"] == "kubectl"


def test_410_gone_in_the_stream_lists_again():
    api = ScriptedApi(
        lists=[([obj("a", "3"), obj("b", "4")], "10"), ([obj("a", "40")], "41")],
        watches=[[{"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                               "message": "too old resource version: 10 (38)"}}]])
    informer, names, _, sleeps = run(api)
    assert names == ["a"]  # b was deleted while the watch could not follow
    assert api.watched_from == ["10", "41"]
    assert informer.restarts == 1
    assert sleeps == []


def test_410_gone_when_opening_the_watch_lists_again():
    api = ScriptedApi(lists=[([obj("a", "3")], "10"), ([], "50")], watches=[Gone("expired")])
    informer, names, _, _ = run(api)
    assert names == []
    assert api.watched_from == ["10", "50"]


def test_api_server_restart_resumes_from_the_last_version_seen():
    refused = Unreachable("cannot reach the API server: Connection refused")
    api = ScriptedApi(
        lists=[([obj("a", "3")], "10")],
        watches=[[event("ADDED", "b", "11"), Unreachable("watch connection dropped")],
                 refused, refused,
                 [event("MODIFIED", "b", "12")]])
    informer, names, _, sleeps = run(api)
    assert names == ["a", "b"]
    assert api.watched_from == ["10", "11", "11", "11", "12"]
    assert sleeps == [0.1, 0.2, 0.4]  # back-off while the server is down
    assert informer.restarts == 3
    assert informer.last_error == ""  # cleared once the watch is back


def test_backoff_is_capped():
    refused = Unreachable("refused")
    api = ScriptedApi(lists=[([], "1")], watches=[refused] * 7)
    _, _, _, sleeps = run(api)
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_other_watch_error_events_reconnect():
    api = ScriptedApi(lists=[([], "1")],
                      watches=[[{"type": "ERROR", "object": {"code": 500, "message": "internal error"}}]])
    informer, _, _, sleeps = run(api)
    assert api.watched_from == ["1", "1"]
    assert sleeps == [0.1]


def test_server_never_reached_is_fatal_after_a_short_grace():
    refused = Unreachable("cannot reach the API server at https://x: refused")
    api = ScriptedApi(lists=[refused] * 20, watches=[])
    informer, _, changes, sleeps = run(api)
    assert "cannot reach the API server" in str(informer.fatal)
    assert sum(sleeps) <= 10 < sum(sleeps) + 2.0
    assert changes == [1]  # the waiter is woken to report it


def test_server_restarting_as_the_wait_starts_is_retried():
    refused = Unreachable("refused")
    api = ScriptedApi(lists=[refused, refused, ([obj("a", "3")], "10")], watches=[])
    informer, names, _, sleeps = run(api)
    assert informer.fatal is None
    assert names == ["a"]
    assert sleeps == [0.1, 0.2]


def test_rbac_denial_stops_the_informer():
    api = ScriptedApi(lists=[([], "1")], watches=[Forbidden("RBAC denied: cannot watch pods"), []])
    informer, _, _, _ = run(api)
    assert isinstance(informer.fatal, Forbidden)
    assert api.watched_from == ["1"]
