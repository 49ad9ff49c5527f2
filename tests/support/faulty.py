"""A registry that misbehaves on demand, speaking the real distribution protocol over a socket.

It serves images given to it (manifests by tag or digest, blobs by digest, with the
headers distribution sends) and, per path suffix, applies ``Fault`` rules (``faults.py``):
wrong bytes, truncated bodies, stalls, slow trickles, TCP resets at a chosen point, 429 with
Retry-After, N errors then success, storms of 5xx, 404. A real registry cannot be made to
do these things, which is the only reason this fake exists. With an ``ssl`` context it
serves HTTPS, for certificate faults.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import threading
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.faults import Fault, FaultKind, ResetPoint, Rule
from tests.support.images import Image, Index
from tests.support.requestlog import RecordedRequest, RequestLog
from tests.support.serve import ServedInThread, ServerThread
from tests.support.tcpforward import reset

__all__ = ["Fault", "FaultKind", "FaultyRegistry", "ResetPoint"]

_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_FLIP = bytes(255 - i for i in range(256))
_API_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


class _HungUp(Exception):
    """Raised after closing a connection mid-body; aiohttp must not finish that response."""

    def __init__(self, sent: int) -> None:
        super().__init__(sent)
        self.sent = sent


@dataclass
class _Content:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    extra: dict[str, str] = field(default_factory=dict)


class FaultyRegistry(ServedInThread):
    """Serve images over HTTP (HTTPS with ``ssl``) and misbehave where ``inject`` says."""

    def __init__(self, *, ssl: ssl.SSLContext | None = None) -> None:
        self.log = RequestLog()
        self._manifests: dict[tuple[str, str], tuple[str, bytes, str]] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._tags: dict[str, list[str]] = {}
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = ServerThread(app, ssl=ssl)

    def add(self, repo: str, image: Image | Index, tag: str | None = None) -> None:
        """Serve ``image`` (children and blobs included) in ``repo``, by digest and by ``tag``."""
        for digest, (media_type, body) in image.manifests.items():
            self._manifests[(repo, digest)] = (media_type, body, digest)
        for digest, data in image.all_blobs.items():
            self._blobs[(repo, digest)] = data
        if tag is not None:
            self._manifests[(repo, tag)] = (image.media_type, image.manifest_bytes, image.digest)
            self._tags.setdefault(repo, []).append(tag)

    def inject(self, path_suffix: str, fault: Fault) -> None:
        """Apply ``fault`` to requests whose path ends with ``path_suffix`` (e.g. a digest).

        When several rules match, the most recently injected one that still has uses left wins.
        """
        with self._lock:
            self._rules.append(Rule(path_suffix, fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def count(self, method: str | None = None, path_suffix: str = "") -> int:
        return self.log.count(method, path_suffix)

    def _take_fault(self, method: str, path: str) -> tuple[Fault | None, int]:
        """The rule's fault for this request, and how many requests it matched before."""
        with self._lock:
            for rule in reversed(self._rules):  # the newest rule wins
                if rule.applies(method, path):
                    rule.hits += 1
                    return rule.fault, rule.hits - 1
        return None, 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault, hit = self._take_fault(request.method, request.path)
        content = self._resolve(request)
        # Counted on arrival: a client that got its answer always finds its request counted.
        entry = RecordedRequest(request.method, request.path, request.query_string, content.status, 0)
        self.log.add(entry)
        try:
            response, entry.bytes_sent = await self._send(request, content, fault, hit)
            entry.status = response.status
            return response
        except _HungUp as hung:
            entry.bytes_sent = hung.sent
            raise asyncio.CancelledError from None

    async def _send(
        self, request: web.Request, content: _Content, fault: Fault | None, hit: int
    ) -> tuple[web.StreamResponse, int]:
        if fault is None:
            return await _write(request, content, content.body)
        if fault.kind is FaultKind.STALL:
            if fault.delay is None:
                await asyncio.Event().wait()  # until the client gives up or the server stops
            await asyncio.sleep(fault.delay or 0)
            return await _write(request, content, content.body)
        if fault.kind in (FaultKind.STATUS, FaultKind.TOO_MANY_REQUESTS, FaultKind.NOT_FOUND):
            return await _write(request, _fault_status(fault, request.path, hit), None)
        if fault.kind is FaultKind.WRONG_BYTES:
            return await _write(request, content, content.body.translate(_FLIP))
        if fault.kind is FaultKind.TRICKLE:
            return await _trickle(request, content, fault)
        if fault.kind is FaultKind.RESET:
            return await _reset(request, content, fault.reset_at)
        if fault.kind is FaultKind.ENDLESS_ERROR:
            return await _endless_error(request, fault.status)
        return await _broken_body(request, content, fault.kind)

    def _resolve(self, request: web.Request) -> _Content:
        """What an honest distribution registry would answer."""
        if request.path in ("/v2", "/v2/"):
            return _Content(200, {"Content-Type": "application/json"}, b"{}")
        if tags := _TAGS.match(request.path):
            name = tags["name"]
            body = json.dumps({"name": name, "tags": self._tags.get(name, [])}).encode()
            return _Content(200, {"Content-Type": "application/json"}, body)
        route = _ROUTE.match(request.path)
        if route is None or request.method not in ("GET", "HEAD"):
            return _error(404 if route is None else 405, "UNSUPPORTED", "not served by the faulty registry")
        key = (route["name"], route["ref"])
        if route["kind"] == "manifests":
            if key not in self._manifests:
                return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            media_type, body, digest = self._manifests[key]
            return _Content(200, {"Content-Type": media_type, "Docker-Content-Digest": digest}, body)
        if key not in self._blobs:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        return _blob(key[1], self._blobs[key], request.headers.get("Range"))


def _error(status: int, code: str, message: str) -> _Content:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
    return _Content(status, {"Content-Type": "application/json"}, body)


def _fault_status(fault: Fault, path: str, hit: int) -> _Content:
    if fault.kind is FaultKind.TOO_MANY_REQUESTS:
        content = _error(429, "TOOMANYREQUESTS", "too many requests")
        if fault.retry_after is not None:
            content.headers["Retry-After"] = str(fault.retry_after)
        return content
    if fault.kind is FaultKind.NOT_FOUND:
        code = "MANIFEST_UNKNOWN" if "/manifests/" in path else "BLOB_UNKNOWN"
        return _error(404, code, "not found (injected)")
    return _error(fault.status_for(hit), "UNKNOWN", "injected failure")


def _blob(digest: str, data: bytes, range_header: str | None) -> _Content:
    headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
    headers["Accept-Ranges"] = "bytes"
    match = _RANGE.match(range_header or "")
    if match is None:
        return _Content(200, headers, data)
    start = int(match[1])
    end = int(match[2]) if match[2] else len(data) - 1
    if start >= len(data) or end < start:
        return _Content(416, {"Content-Range": f"bytes */{len(data)}"})
    end = min(end, len(data) - 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return _Content(206, headers, data[start : end + 1])


async def _write(
    request: web.Request, content: _Content, body: bytes | None
) -> tuple[web.StreamResponse, int]:
    """Send ``content`` with ``body`` (None: the content's own body); HEAD sends headers only."""
    payload = content.body if body is None else body
    response = web.StreamResponse(status=content.status, headers={**_API_HEADER, **content.headers})
    response.content_length = len(payload)
    await response.prepare(request)
    if request.method != "HEAD":
        await response.write(payload)
    await response.write_eof()
    return response, 0 if request.method == "HEAD" else len(payload)


async def _broken_body(
    request: web.Request, content: _Content, kind: FaultKind
) -> tuple[web.StreamResponse, int]:
    """Promise the full Content-Length, then stall or hang up halfway."""
    response = web.StreamResponse(status=content.status, headers={**_API_HEADER, **content.headers})
    response.content_length = len(content.body)
    await response.prepare(request)
    if kind is FaultKind.STALL_BODY:
        await asyncio.Event().wait()
    half = content.body[: len(content.body) // 2]
    await response.write(half)
    assert request.transport is not None
    request.transport.close()
    raise _HungUp(len(half))


async def _endless_error(request: web.Request, status: int) -> tuple[web.StreamResponse, int]:
    """An OCI error envelope whose message never ends: only a reader that caps it gets an answer."""
    response = web.StreamResponse(status=status, headers={**_API_HEADER, "Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    sent = 0
    if request.method == "HEAD":
        return response, 0
    chunk = b"x" * 65536
    try:
        await response.write(b'{"errors": [{"code": "UNKNOWN", "message": "')
        while True:
            await response.write(chunk)
            sent += len(chunk)
    except ConnectionError:
        raise _HungUp(sent) from None


async def _trickle(request: web.Request, content: _Content, fault: Fault) -> tuple[web.StreamResponse, int]:
    """The honest answer, its body a few bytes at a time: slow, but never silent for long."""
    response = web.StreamResponse(status=content.status, headers={**_API_HEADER, **content.headers})
    response.content_length = len(content.body)
    await response.prepare(request)
    for start in range(0, len(content.body), fault.piece):
        await asyncio.sleep(fault.interval)
        await response.write(content.body[start : start + fault.piece])
    await response.write_eof()
    return response, len(content.body)


# Long enough for the client to have read what was sent before the RST arrives: a reset
# makes the receiver drop data it has not read yet, which would blur "after headers".
_BEFORE_RESET = 0.2


async def _reset(request: web.Request, content: _Content, at: ResetPoint) -> tuple[web.StreamResponse, int]:
    """Answer up to ``at``, then reset the connection (RST, not FIN)."""
    assert request.transport is not None
    if at is ResetPoint.BEFORE_STATUS:
        reset(request.transport)
        raise _HungUp(0)
    response = web.StreamResponse(status=content.status, headers={**_API_HEADER, **content.headers})
    response.content_length = len(content.body)
    await response.prepare(request)  # a StreamResponse sends its headers right away
    sent = 0
    if at is ResetPoint.MID_BODY:
        sent = len(content.body) // 2
        await response.write(content.body[:sent])
    await asyncio.sleep(_BEFORE_RESET)
    reset(request.transport)
    raise _HungUp(sent)
