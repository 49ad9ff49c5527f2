"""A small registry and token service that speak the distribution protocol over real sockets.

`FakeRegistry` serves manifests, blobs and tags, and authenticates like the real thing:
anonymously, with HTTP Basic, or with bearer tokens from its own token endpoint (realm
``/token``). It records what it was sent, so tests can count round trips and check headers.
Fault injection that needs stranger behaviour is written as small handlers in the tests.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.settings import TLSSettings, UpstreamClientSettings, UpstreamSettings
from proxy.upstream import UpstreamRegistry

UPSTREAM_NAME = "upstream.test"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Tiny timeouts and backoffs keep fault tests fast; each test may override any of them.
FAST_CLIENT = {
    "connect_timeout": 1.0,
    "read_timeout": 0.3,
    "retries": 2,
    "backoff_initial": 0.001,
    "backoff_max": 0.004,
    "retry_after_max": 1.0,
}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    headers: dict[str, str]


class FakeClock:
    """A monotonic clock the test moves by hand, for token expiry."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def oci_error(status: int, code: str, message: str = "") -> web.Response:
    body = {"errors": [{"code": code, "message": message or code.lower()}]}
    return web.json_response(body, status=status)


@dataclass
class FakeRegistry:
    auth: str = "none"  # "none", "basic" or "bearer"
    username: str = "alice"
    password: str = "pa55-w0rd-secret"
    token_needs_credentials: bool = False
    expires_in: int | None = 300
    token_field: str = "token"
    token_delay: float = 0.0
    reject_tokens: bool = False  # refuse even valid tokens: a 401 after authenticating
    blob_redirect: str | None = None  # redirect blob GETs to this base URL
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    token_requests: list[Seen] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # token -> scope
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def add_manifest(self, repo: str, tag: str, document: dict[str, Any]) -> tuple[bytes, Digest]:
        data = json.dumps(document).encode()
        media_type = document.get("mediaType", mediatypes.OCI_MANIFEST)
        digest = Digest.of(data)
        self.manifests[(repo, tag)] = (data, media_type)
        self.manifests[(repo, str(digest))] = (data, media_type)
        return data, digest

    def add_blob(self, repo: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        self.blobs[(repo, str(digest))] = data
        return digest

    def registry_requests(self, path_part: str = "") -> list[Seen]:
        return [seen for seen in self.requests if path_part in seen.path]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/token", self._token)
        app.router.add_get("/v2/", self._ping)
        app.router.add_route("*", "/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_route("*", "/v2/{name:.+}/blobs/{digest}", self._blob)
        app.router.add_get("/v2/{name:.+}/tags/list", self._tags)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        seen = Seen(
            request.method,
            request.path,
            dict(request.query),
            request.headers.get("Authorization"),
            dict(request.headers),
        )
        (self.token_requests if request.path == "/token" else self.requests).append(seen)
        return await handler(request)

    def _challenge(self, request: web.Request, scope: str | None) -> web.Response:
        if self.auth == "basic":
            header = 'Basic realm="fake registry"'
        else:
            realm = f"{request.scheme}://{request.host}/token"
            header = f'Bearer realm="{realm}",service="fake.registry"'
            header += f',scope="{scope}"' if scope else ""
        response = oci_error(401, "UNAUTHORIZED", "authentication required")
        response.headers["WWW-Authenticate"] = header
        return response

    def _denied(self, request: web.Request, scope: str | None) -> web.Response | None:
        sent = request.headers.get("Authorization", "")
        if self.auth == "basic":
            ok = sent == basic_header(self.username, self.password)
        elif self.auth == "bearer":
            token = sent.removeprefix("Bearer ")
            ok = not self.reject_tokens and token in self.issued and self.issued[token] == (scope or "")
        else:
            ok = True
        return None if ok else self._challenge(request, scope)

    async def _token(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.token_delay)
        expected = basic_header(self.username, self.password)
        if self.token_needs_credentials and request.headers.get("Authorization") != expected:
            return oci_error(401, "UNAUTHORIZED", "bad credentials")
        token = f"tok-{next(self._serial)}-sekrit"
        self.issued[token] = " ".join(request.query.getall("scope", []))
        body: dict[str, Any] = {self.token_field: token}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return web.json_response(body)

    async def _ping(self, request: web.Request) -> web.Response:
        return self._denied(request, None) or web.json_response({})

    async def _manifest(self, request: web.Request) -> web.Response:
        name, reference = request.match_info["name"], request.match_info["reference"]
        if denied := self._denied(request, f"repository:{name}:pull"):
            return denied
        if (name, reference) not in self.manifests:
            return oci_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        data, media_type = self.manifests[(name, reference)]
        headers = {"Docker-Content-Digest": str(Digest.of(data)), "Content-Type": media_type}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return web.Response(headers=headers)
        return web.Response(body=data, headers=headers)

    async def _blob(self, request: web.Request) -> web.Response:
        name, digest = request.match_info["name"], request.match_info["digest"]
        if denied := self._denied(request, f"repository:{name}:pull"):
            return denied
        if (name, digest) not in self.blobs:
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown")
        if self.blob_redirect is not None and request.method == "GET":
            raise web.HTTPTemporaryRedirect(f"{self.blob_redirect}/{digest}?X-Signature=presigned-secret")
        data = self.blobs[(name, digest)]
        if request.method == "HEAD":
            return web.Response(headers={"Content-Length": str(len(data))})
        return web.Response(body=data, content_type="application/octet-stream")

    async def _tags(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if denied := self._denied(request, f"repository:{name}:pull"):
            return denied
        if name not in self.tags:
            return oci_error(404, "NAME_UNKNOWN", "repository name not known")
        return web.json_response({"name": name, "tags": self.tags[name]})


Serve = Callable[..., Awaitable[str]]
MakeUpstream = Callable[..., Awaitable[UpstreamRegistry]]


@pytest.fixture
def serve(aiohttp_server: Any) -> Serve:
    """Start an app on a loopback port; returns its base URL (no trailing slash)."""

    async def start(app: web.Application, **kwargs: Any) -> str:
        server = await aiohttp_server(app, **kwargs)
        return str(server.make_url("")).rstrip("/")

    return start


@pytest.fixture
async def make_upstream() -> AsyncIterator[MakeUpstream]:
    """Build and start an `UpstreamRegistry` for a URL; closed when the test ends."""
    started: list[UpstreamRegistry] = []

    async def make(
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: TLSSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        **client: Any,
    ) -> UpstreamRegistry:
        settings = UpstreamSettings.model_validate(
            {"name": UPSTREAM_NAME, "url": url, "username": username, "password": password, "tls": tls or {}}
        )
        client_settings = UpstreamClientSettings.model_validate({**FAST_CLIENT, **client})
        upstream = UpstreamRegistry(settings, client_settings, clock=clock)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        await upstream.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


StartRegistry = Callable[..., Awaitable[tuple[FakeRegistry, str]]]


@pytest.fixture
def start_registry(serve: Serve) -> StartRegistry:
    """Serve a `FakeRegistry` built with the given options; returns it and its URL."""

    async def start(**options: Any) -> tuple[FakeRegistry, str]:
        fake = FakeRegistry(**options)
        return fake, await serve(fake.app())

    return start
