# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker Registry HTTP API V2 as far as slipway needs it: log in (Basic, or a Bearer token
from the registry's token service) and ask whether a tag exists, without pulling anything.

The decisions (how a reference splits, what a challenge asks for, what a refusal means) are pure
functions; RegistryClient does the requests.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

# What a HEAD of a manifest accepts: single-platform and multi-platform, Docker's and OCI's.
MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry that cannot be used as given: the message says why, never the password."""


def split_reference(reference: str) -> tuple[str, str, str]:
    """`host[:port]/path/name:tag` as (registry, repository, tag)."""
    registry, sep, rest = reference.partition("/")
    if not sep or not ("." in registry or ":" in registry or registry == "localhost"):
        raise RegistryError(f"{reference!r} does not name a registry (host[:port]/repository:tag)")
    repository, sep, tag = rest.rpartition(":")
    if not sep or "/" in tag or not repository:
        raise RegistryError(f"{reference!r} has no tag")
    return registry, repository, tag


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """A WWW-Authenticate header as (scheme, its parameters): `Bearer realm="...",service="..."`."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(CHALLENGE_PARAM.findall(params))


def token_url(challenge: dict[str, str], repository: str | None) -> str:
    """Where a Bearer challenge's token service hands out a pull token (a login check without a
    repository asks for no scope, as `docker login` does)."""
    query = {"service": challenge["service"]} if "service" in challenge else {}
    if repository:
        query["scope"] = f"repository:{repository}:pull"
    return challenge["realm"] + ("?" + urlencode(query) if query else "")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def refused(registry: str, username: str) -> str:
    if not username:
        return f"The registry {registry} asks for credentials and none were given"
    return f"The registry {registry} refused the credentials of {username!r} (401 Unauthorized)"


class RegistryClient:
    """One registry; `request` is ansible.module_utils.urls.open_url or a stand-in of its shape."""

    def __init__(self, registry: str, username: str, password: str, request, **url_options):
        self.registry = registry
        self.username = username
        self.password = password
        self.request = request
        self.url_options = url_options
        self.challenge: tuple[str, dict[str, str]] | None = None
        self.tokens: dict[str | None, str] = {}

    def _open(self, method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

        try:
            response = self.request(url, method=method, headers=headers, **self.url_options)
            return response.status, dict(response.headers), response.read()
        except HTTPError as error:
            return error.code, dict(error.headers or {}), b""
        except (URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                raise RegistryError(f"The certificate of the registry {self.registry} is not trusted (give the CA "
                                    f"that signed it): {reason}") from error
            raise RegistryError(f"The registry {self.registry} cannot be reached: {reason}") from error

    def login(self) -> str:
        """Check the registry answers and takes the credentials; returns the auth scheme in use."""
        status, headers, _ = self._open("GET", f"https://{self.registry}/v2/", {})
        if status == 200:
            return "none"
        if status != 401:
            raise RegistryError(f"The registry {self.registry} answered /v2/ with HTTP {status}")
        self.challenge = parse_challenge(headers.get("WWW-Authenticate") or headers.get("Www-Authenticate") or "")
        if not self.username:
            raise RegistryError(refused(self.registry, self.username))
        if self.challenge[0] == "basic":
            status, _, _ = self._open("GET", f"https://{self.registry}/v2/", self._authorization(None))
            if status == 401:
                raise RegistryError(refused(self.registry, self.username))
        else:
            # A token without a scope: the token service checks the credentials, as `docker login` does.
            self._authorization(None)
        return self.challenge[0]

    def _authorization(self, repository: str | None) -> dict[str, str]:
        if self.challenge is None:
            return {}
        scheme, params = self.challenge
        if scheme == "basic":
            return {"Authorization": basic(self.username, self.password)}
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"The registry {self.registry} asks for an authentication slipway does not "
                                f"know: {scheme!r}")
        if repository not in self.tokens:
            status, _, body = self._open("GET", token_url(params, repository),
                                         {"Authorization": basic(self.username, self.password)})
            if status == 401:
                raise RegistryError(refused(self.registry, self.username))
            if status != 200:
                raise RegistryError(f"The token service of {self.registry} answered HTTP {status}")
            answer = json.loads(body)
            self.tokens[repository] = answer.get("token") or answer.get("access_token") or ""
        return {"Authorization": f"Bearer {self.tokens[repository]}"}

    def has_tag(self, repository: str, tag: str) -> bool:
        headers = {"Accept": MANIFEST_TYPES, **self._authorization(repository)}
        status, _, _ = self._open("HEAD", f"https://{self.registry}/v2/{repository}/manifests/{tag}", headers)
        if status == 200:
            return True
        if status == 404:
            return False
        if status in (401, 403):
            raise RegistryError(f"The registry {self.registry} does not let {self.username!r} read {repository} "
                                f"(HTTP {status})")
        raise RegistryError(f"The registry {self.registry} answered HTTP {status} for {repository}:{tag}")
