"""One upstream registry, spoken to over the OCI distribution API (pull side only).

`UpstreamRegistry` owns an aiohttp session for its upstream. Every call authenticates
(pre-emptively when a token is cached), retries temporary failures while nothing has been
handed to the caller, goes through the upstream's circuit breaker (``circuit.py``), caps
what it buffers, and raises `UpstreamError` for every failure. Nothing here verifies
digests: bytes are untrusted until the caller has hashed them.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import aiohttp
from aiohttp import hdrs
from yarl import URL

from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.manifest import MAX_MANIFEST_BYTES
from proxy.oci.reference import RepositoryName
from proxy.settings import UpstreamClientSettings, UpstreamSettings
from proxy.upstream.auth import Authenticator, Credentials, pull_scope
from proxy.upstream.blobstream import BlobStream, read_first
from proxy.upstream.circuit import Circuit, CircuitStatus
from proxy.upstream.credentials import UpstreamCredentials
from proxy.upstream.errors import (
    error_from_response,
    protocol_error,
    read_body,
    redact_url,
    translate_client_errors,
)
from proxy.upstream.responses import (
    FetchedManifest,
    ManifestHead,
    TagPage,
    content_length,
    declared_digest,
    manifest_head,
    media_type,
    next_last,
)
from proxy.upstream.retry import RetryPolicy

__all__ = ["BlobStream", "FetchedManifest", "ManifestHead", "TagPage", "UpstreamRegistry"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

_USER_AGENT = "pullgate/0.1"
_MANIFEST_HEADERS: Mapping[str, str] = MappingProxyType({hdrs.ACCEPT: ", ".join(mediatypes.MANIFEST_TYPES)})
_MAX_TAG_LIST_BYTES = 16 * 1024 * 1024  # ~300k tags: far beyond any real page


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str  # below the upstream URL, starting with /v2/
    scope: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Sequence[tuple[str, str]] = ()
    passthrough: frozenset[int] = frozenset()  # error statuses the caller handles itself
    authenticate: bool = True


_READ_BUFFER = 1024 * 1024


class UpstreamRegistry:
    """The pull side of one upstream registry's API. `start` before use, `close` after."""

    def __init__(
        self,
        settings: UpstreamSettings,
        client_settings: UpstreamClientSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = settings.name
        self._settings = settings
        self._client_settings = client_settings
        self._origin = URL(settings.url).origin()
        self._policy = RetryPolicy.from_settings(client_settings)
        breaker = client_settings.circuit_breaker
        self._circuit = Circuit(
            self.name,
            failures=breaker.failures,
            open_for=breaker.open_for,
            hold_max=breaker.hold_max,
            clock=clock,
        )
        secret = settings.secret()
        configured = Credentials(settings.username, secret) if settings.username and secret else None
        self._auth = Authenticator(self.name, settings.url, configured, clock=clock)
        self.credentials = UpstreamCredentials(self.name, self._auth, configured)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"UpstreamRegistry(name={self.name!r}, url={self.url!r})"

    @property
    def url(self) -> str:
        """The upstream's URL, safe to show (no credentials)."""
        return redact_url(self._settings.url)

    def circuit(self) -> CircuitStatus:
        """The circuit breaker's state now (for the admin API and the metrics)."""
        return self._circuit.status()

    async def start(self) -> None:
        if self._session is not None:
            return
        options = self._client_settings
        connector = aiohttp.TCPConnector(limit=options.max_connections, ssl=self._ssl())
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={hdrs.USER_AGENT: _USER_AGENT},
            # Blobs must arrive byte for byte as they were hashed: never ask for, nor undo,
            # a transfer encoding.
            skip_auto_headers=(hdrs.ACCEPT_ENCODING,),
            auto_decompress=False,
            # aiohttp's 64 KiB default pauses and resumes the socket many times per megabyte
            # (seen in profiles of cold pulls); a larger buffer lets big layers flow.
            read_bufsize=_READ_BUFFER,
        )

    async def close(self) -> None:
        await self._auth.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_manifest(self, repo: RepositoryName, reference: str) -> FetchedManifest:
        call = _Call("GET", f"/v2/{repo}/manifests/{reference}", pull_scope(repo.value), _MANIFEST_HEADERS)
        return await self._fetch(call, self._read_manifest)

    async def head_manifest(self, repo: RepositoryName, reference: str) -> ManifestHead:
        call = _Call("HEAD", f"/v2/{repo}/manifests/{reference}", pull_scope(repo.value), _MANIFEST_HEADERS)
        return await self._fetch(call, manifest_head)

    def open_blob(self, repo: RepositoryName, digest: Digest) -> AbstractAsyncContextManager[BlobStream]:
        """Open a blob; the request (auth, retries, redirects) is made on ``__aenter__``."""
        return self._blob_stream(_Call("GET", f"/v2/{repo}/blobs/{digest}", pull_scope(repo.value)))

    async def head_blob(self, repo: RepositoryName, digest: Digest) -> int | None:
        call = _Call("HEAD", f"/v2/{repo}/blobs/{digest}", pull_scope(repo.value))
        return await self._fetch(call, content_length)

    async def list_tags(self, repo: RepositoryName, n: int | None, last: str | None) -> TagPage:
        params = [(key, str(value)) for key, value in (("n", n), ("last", last)) if value is not None]
        call = _Call("GET", f"/v2/{repo}/tags/list", pull_scope(repo.value), params=params)
        return await self._fetch(call, self._read_tags)

    async def get_referrers(
        self, repo: RepositoryName, digest: Digest, artifact_type: str | None
    ) -> bytes | None:
        """The referrers index, or None when the upstream does not implement the API."""
        params = [("artifactType", artifact_type)] if artifact_type else []
        call = _Call(
            "GET",
            f"/v2/{repo}/referrers/{digest}",
            pull_scope(repo.value),
            params=params,
            passthrough=frozenset({404, 405}),
        )
        return await self._fetch(call, self._read_referrers)

    async def ping(self) -> None:
        """Check the upstream answers the API: one attempt, and a 401 counts as an answer.

        It bypasses the circuit breaker, so a health probe shows the upstream as it is now.
        """
        call = _Call("GET", "/v2/", None, passthrough=frozenset({401}), authenticate=False)
        (await self._open(call)).release()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"upstream {self.name} is not started")
        return self._session

    def _ssl(self) -> ssl.SSLContext | bool:
        tls = self._settings.tls
        if tls.insecure:
            _log.warning("upstream %s: TLS certificate verification is DISABLED (tls.insecure)", self.name)
            return False
        if tls.ca_file is None:
            return True
        # Added to the system roots, not instead of them: a registry that redirects blobs
        # to public object storage needs both.
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=tls.ca_file)
        return context

    async def _fetch(self, call: _Call, reader: Callable[[aiohttp.ClientResponse], Awaitable[T]]) -> T:
        """Request and read a whole (small) response; the read is retried along with the request."""

        async def attempt() -> T:
            with self._circuit.guard():
                response = await self._open(call)
                try:
                    with translate_client_errors(self.name, call.method, response.url):
                        return await reader(response)
                finally:
                    response.release()

        return await self._policy.run(attempt, method=call.method)

    @asynccontextmanager
    async def _blob_stream(self, call: _Call) -> AsyncIterator[BlobStream]:
        async def attempt() -> tuple[aiohttp.ClientResponse, bytes]:
            with self._circuit.guard():
                response = await self._open(call)
                try:
                    return response, await read_first(self.name, response)
                except BaseException:
                    response.release()
                    raise

        response, first = await self._policy.run(attempt, method=call.method)
        try:
            yield BlobStream(self.name, response, first)
        finally:
            # A body left unread closes the connection rather than returning it to the pool.
            response.release()

    async def _open(self, call: _Call) -> aiohttp.ClientResponse:
        """One attempt: an open response that succeeded (or has a passthrough status)."""
        self.credentials.check()
        url = URL(self._settings.url + call.path)

        def send(authorization: str | None) -> Awaitable[aiohttp.ClientResponse]:
            return self._send(call, url, authorization)

        with translate_client_errors(self.name, call.method, url):
            if call.authenticate:
                response = await self._auth.send(self._client(), send, call.scope, self._origin)
            else:
                response = await send(None)
            if response.status < 400 or response.status in call.passthrough:
                return response
            try:
                raise await error_from_response(self.name, call.method, response)
            finally:
                response.release()

    async def _send(self, call: _Call, url: URL, authorization: str | None) -> aiohttp.ClientResponse:
        headers = dict(call.headers)
        if authorization is not None:
            headers[hdrs.AUTHORIZATION] = authorization
        # aiohttp drops Authorization when a redirect leaves the registry's origin (tested).
        return await self._client().request(call.method, url, params=call.params, headers=headers)

    async def _read_manifest(self, response: aiohttp.ClientResponse) -> FetchedManifest:
        data = await read_body(self.name, response, MAX_MANIFEST_BYTES, "manifest")
        # RFC 9110 8.3: no Content-Type means application/octet-stream. Whether that is a
        # manifest is for the manifest parser to say, not the transport.
        declared_type = media_type(response) or "application/octet-stream"
        return FetchedManifest(data, declared_type, declared_digest(response))

    async def _read_tags(self, response: aiohttp.ClientResponse) -> TagPage:
        body = await read_body(self.name, response, _MAX_TAG_LIST_BYTES, "tag list")
        try:
            tags = json.loads(body).get("tags") or []
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, AttributeError):
            raise protocol_error(self.name, response, "tag list is not a JSON object") from None
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise protocol_error(self.name, response, "tag list has no list of tags")
        return TagPage(tags, next_last(response.headers.getall(hdrs.LINK, [])))

    async def _read_referrers(self, response: aiohttp.ClientResponse) -> bytes | None:
        if response.status in (404, 405):
            return None
        body = await read_body(self.name, response, MAX_MANIFEST_BYTES, "referrers index")
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None  # an HTML page or similar: the upstream does not speak the API
        return body if isinstance(document, dict) else None
