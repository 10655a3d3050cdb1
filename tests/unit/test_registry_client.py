"""The registry client's decisions: how a reference splits, what a challenge asks for, and the
Bearer token flow the sandbox's registry (Basic, tested for real in test_registry.py) does not use,
on recorded answers of a token-service registry."""

from __future__ import annotations

import base64
import io
import json
from email.message import Message
from urllib.error import HTTPError

import pytest

from ansible.module_utils.registry_client import (
    RegistryClient, RegistryError, parse_challenge, split_reference, token_url)


@pytest.mark.parametrize(("reference", "parts"), [
    ("registry.example.com/shop/web:1a2b", ("registry.example.com", "shop/web", "1a2b")),
    ("10.89.0.1:15000/ns/slipway/app-web:ff", ("10.89.0.1:15000", "ns/slipway/app-web", "ff")),
    ("localhost/web:1", ("localhost", "web", "1")),
])
def test_a_reference_splits_into_registry_repository_and_tag(reference: str, parts: tuple) -> None:
    assert split_reference(reference) == parts


@pytest.mark.parametrize("reference", ["slipway/web:1", "registry.example.com/web", "registry.example.com:5000/web"])
def test_a_reference_without_registry_or_tag_is_refused(reference: str) -> None:
    with pytest.raises(RegistryError):
        split_reference(reference)


def test_a_bearer_challenge_names_its_token_service() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.example.com/token",service="registry.example.com"')
    assert scheme == "bearer"
    assert token_url(params, "shop/web") == ("https://auth.example.com/token?service=registry.example.com"
                                             "&scope=repository%3Ashop%2Fweb%3Apull")
    assert token_url(params, None) == "https://auth.example.com/token?service=registry.example.com"
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})


class Answer:
    def __init__(self, status: int, body: dict | None = None):
        self.status, self.headers, self._body = status, {}, json.dumps(body or {}).encode()

    def read(self) -> bytes:
        return self._body


class TokenRegistry:
    """Recorded answers of a registry with a token service, which checks the Basic login."""

    CHALLENGE = 'Bearer realm="https://auth.example.com/token",service="registry.example.com"'

    def __init__(self, password: str, tags: set[str]):
        self.password, self.tags, self.calls = password, tags, []

    def __call__(self, url: str, method: str, headers: dict, **options) -> Answer:
        self.calls.append((method, url))
        if url.startswith("https://auth.example.com/token"):
            if headers.get("Authorization") != "Basic " + base64.b64encode(f"ci:{self.password}".encode()).decode():
                raise self.error(url, 401)
            return Answer(200, {"token": "t-" + url.rsplit("scope=", 1)[-1]})
        if not headers.get("Authorization", "").startswith("Bearer t-"):
            raise self.error(url, 401, self.CHALLENGE)
        tag = url.rsplit("/manifests/", 1)[-1]
        if tag not in self.tags:
            raise self.error(url, 404)
        return Answer(200)

    @staticmethod
    def error(url: str, code: int, challenge: str | None = None) -> HTTPError:
        headers = Message()
        if challenge:
            headers["WWW-Authenticate"] = challenge
        return HTTPError(url, code, "", headers, io.BytesIO(b""))


def test_a_token_registry_is_logged_in_to_and_asked_per_repository() -> None:
    registry = TokenRegistry("right", {"1"})
    client = RegistryClient("registry.example.com", "ci", "right", registry)
    assert client.login() == "bearer"
    assert client.has_tag("shop/web", "1") is True
    assert client.has_tag("shop/web", "2") is False
    # One token for the login, one for the repository, reused for its second tag.
    assert [url for _, url in registry.calls if "auth.example.com" in url] == [
        "https://auth.example.com/token?service=registry.example.com",
        "https://auth.example.com/token?service=registry.example.com&scope=repository%3Ashop%2Fweb%3Apull"]


def test_a_token_registry_refusing_the_password_fails_the_login_without_it() -> None:
    client = RegistryClient("registry.example.com", "ci", "wrong-secret", TokenRegistry("right", set()))
    with pytest.raises(RegistryError) as refused:
        client.login()
    assert str(refused.value) == "The registry registry.example.com refused the credentials of 'ci' (401 Unauthorized)"
    assert "wrong-secret" not in str(refused.value)


def test_a_registry_asking_for_credentials_when_none_are_given_says_so() -> None:
    client = RegistryClient("registry.example.com", "", "", TokenRegistry("right", set()))
    with pytest.raises(RegistryError, match="asks for credentials and none were given"):
        client.login()
