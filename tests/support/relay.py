"""A counting reverse proxy in front of a real registry.

Put it between the proxy under test and its upstream to prove how often the upstream was
asked for something (single-flight: one blob GET however many clients pulled). Bodies
stream both ways untouched (no decompression, no redirects followed); `chunk_delay` slows
them down, so a fill is still arriving while a test does something else.

`hold(path_suffix, after)` stops the next matching body after `after` bytes until released:
a fetch that is provably mid-way, for crash tests, without timing anything.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from tests.support.requestlog import RecordedRequest, RequestLog
from tests.support.serve import ServedInThread, ServerThread

__all__ = ["HOP_BY_HOP", "Hold", "Relay"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_CHUNK = 64 * 1024
_SESSION = web.AppKey("relay_session", aiohttp.ClientSession)


@dataclass
class Hold:
    """One held body: `reached` is set once `after` bytes went out; `release()` lets it go on."""

    path_suffix: str
    after: int
    reached: threading.Event = field(default_factory=threading.Event)
    _go: asyncio.Event = field(default_factory=asyncio.Event)
    _relay: Relay | None = None

    def wait_reached(self, timeout: float = 30.0) -> None:
        if not self.reached.wait(timeout):
            raise AssertionError(f"no body for *{self.path_suffix} reached {self.after} bytes in {timeout}s")

    def release(self) -> None:
        assert self._relay is not None
        self._relay._server.call(self._set())

    async def _set(self) -> None:
        self._go.set()


class Relay(ServedInThread):
    """Forward everything to ``upstream_url`` and record (method, path, query, status, bytes)."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.log = RequestLog()
        # Seconds to pause after forwarding each 64 KiB of a body: a slow upstream on demand.
        self.chunk_delay = 0.0
        self._holds: list[Hold] = []
        self._holds_lock = threading.Lock()  # the test thread adds, the relay's thread takes
        app = web.Application()
        app.cleanup_ctx.append(self._session_ctx)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._server = ServerThread(app)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.log.entries

    def hold(self, path_suffix: str, after: int) -> Hold:
        """Hold the next GET whose path ends with `path_suffix` once `after` body bytes went out."""
        hold = Hold(path_suffix, after, _relay=self)
        with self._holds_lock:
            self._holds.append(hold)
        return hold

    def _take_hold(self, method: str, path: str) -> Hold | None:
        with self._holds_lock:
            for hold in self._holds:
                if method == "GET" and path.endswith(hold.path_suffix):
                    self._holds.remove(hold)
                    return hold
        return None

    def count(self, method: str | None = None, path_suffix: str = "") -> int:
        """How many requests with ``method`` (any if None) had a path ending in ``path_suffix``."""
        return self.log.count(method, path_suffix)

    @staticmethod
    async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
        # auto_decompress off: the relay must pass the upstream's bytes through verbatim.
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            app[_SESSION] = session
            yield

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        entry = RecordedRequest(request.method, request.path, request.query_string, 502, 0)
        self.log.add(entry)
        hold = self._take_hold(request.method, request.path)
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
        body = request.content.iter_chunked(_CHUNK) if request.body_exists else None
        url = self.upstream_url + request.rel_url.raw_path_qs
        session = request.app[_SESSION]
        async with session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            entry.status = upstream.status
            response = web.StreamResponse(status=upstream.status, headers=self._response_headers(upstream))
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                entry.bytes_sent += len(chunk)  # counted before it leaves
                await response.write(chunk)
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
                if hold is not None and entry.bytes_sent >= hold.after:
                    hold.reached.set()
                    await hold._go.wait()
                    hold = None
            await response.write_eof()
            return response

    def _response_headers(self, upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
        headers = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP)
        location = headers.get("Location")
        if location and location.startswith(self.upstream_url):
            headers["Location"] = self.url + location[len(self.upstream_url) :]
        return headers
