"""Connection handling aiohttp lacks: a request-head deadline, a connection cap, request
limits per connection, and clear answers when the HTTP parser refuses a request.

aiohttp closes an idle keep-alive connection, but a client that trickles a request head one
byte at a time (slowloris) is never idle, and enough of them exhaust the file descriptors.
`GuardedRequestHandler` is aiohttp's protocol with these additions:

- a deadline for a complete request head (request line and headers), counted from accepting
  the connection and, on a kept-alive one, from the first byte of each later request. Past it
  the connection is answered 408 and closed; one that sent nothing is closed silently, as an
  idle keep-alive connection is;
- a cap on connections being served: one beyond it is answered 503 and closed;
- at most N requests per connection: the N-th answer says `Connection: close`;
- the parser's limits answered 414 (request line), 431 (header size or count) or 400 with an
  OCI error body, instead of aiohttp's plain-text 400 that echoes the offending bytes.

These run before any handler, so their answers are written here with the registry's error
renderer; they are counted in `pullgate_listener_refusals` by reason. The handler relies on a
few of `RequestHandler`'s attributes (`_messages`, `_request_in_progress`, `_request_count`,
`_request_factory`, `_request_handler`); the listener tests pin that behaviour.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.http import RawRequestMessage
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from proxy.api.middlewares import render
from proxy.metrics import Metrics
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.server_settings import ServerSettings

__all__ = ["ConnectionGuard", "GuardedRequestHandler"]

log = logging.getLogger("pullgate.listener")

_MAX_QUOTED = 200  # of a parser message echoed back to the client


class ConnectionGuard:
    """What the connections of one listener share: the limits, who is being served, counters."""

    def __init__(
        self, settings: ServerSettings, metrics: Metrics | None = None, *, max_connections: int | None = None
    ) -> None:
        self.settings = settings
        self.max_connections = max_connections or settings.max_connections
        self.serving = 0  # admitted connections still open; refused ones are not counted
        self._metrics = metrics
        timeout = RegistryError(
            ErrorCode.REQUEST_TIMEOUT,
            f"the request line and headers did not arrive within {settings.request_head_timeout:g} s",
        )
        self.timeout_answer = _raw_answer("408 Request Timeout", timeout)

    def admit(self) -> bool:
        if self._metrics is not None:
            self._metrics.open_connections.inc()
        if self.serving >= self.max_connections:
            self.refused("capacity")
            return False
        self.serving += 1
        return True

    def release(self, admitted: bool) -> None:
        if self._metrics is not None:
            self._metrics.open_connections.dec()
        if admitted:
            self.serving -= 1

    def refused(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.listener_refusals.labels(reason).inc()


class GuardedRequestHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol, with the limits of one `ConnectionGuard`."""

    __slots__ = (
        "_admitted",
        "_app_request_factory",
        "_guard",
        "_head_bytes",
        "_head_timer",
        "_last_payload",
        "_line_length",
        "_line_seen",
        "_parse_failure",
        "_served",
    )

    def __init__(
        self, manager: web.Server, *, loop: asyncio.AbstractEventLoop, guard: ConnectionGuard
    ) -> None:
        settings = guard.settings
        super().__init__(
            manager,
            loop=loop,
            keepalive_timeout=settings.keepalive_timeout,
            max_line_size=settings.max_request_line,
            max_field_size=settings.max_header_size,
            max_headers=settings.max_headers,
        )
        self._guard = guard
        self._admitted: bool | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the request head now arriving
        self._line_seen = False  # its request line is complete...
        self._line_length = 0  # ...and this long (so far)
        self._last_payload: StreamReader | None = None  # the body of the newest request parsed
        self._served = 0
        self._parse_failure: tuple[BaseException, ErrorCode, str, str] | None = None
        self._app_request_factory = self._request_factory
        self._request_factory = self._counted_request

    # -- connection lifetime ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._admitted = self._guard.admit()
        if not self._admitted:
            self._request_handler = self._refuse
        super().connection_made(transport)
        self._arm_head_timer()  # the first request head is due from the moment of accepting

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        if self._admitted is not None:
            self._guard.release(self._admitted)
            self._admitted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data and self._head_timer is None and self._between_requests():
            self._arm_head_timer()  # the first byte of the next request on a kept-alive connection
        if self._head_timer is not None:
            self._head_bytes += len(data)
            self._measure_line(data)
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads:
            self._heads_parsed(self._request_count - heads)

    # -- the request-head deadline ---------------------------------------------------------
    def _between_requests(self) -> bool:
        # Bytes arriving now start a new request head, not a body still being read.
        if self._request_in_progress or self._messages:
            return False
        return self._last_payload is None or self._last_payload.is_eof()

    def _measure_line(self, data: bytes) -> None:
        # Which limit a LineTooLong broke: the parser does not say, the request line's length does.
        if self._line_seen:
            return
        end = data.find(b"\n")
        self._line_length += len(data) if end < 0 else end
        self._line_seen = end >= 0

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes, self._line_seen, self._line_length = 0, False, 0
        timeout = self._guard.settings.request_head_timeout
        self._head_timer = self._loop.call_later(timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _heads_parsed(self, count: int) -> None:
        line_too_long = not self._line_seen or self._line_length > self._guard.settings.max_request_line
        self._disarm_head_timer()
        parsed = list(self._messages)[-count:]
        for message, _payload in parsed:
            failure = getattr(message, "exc", None)  # aiohttp queues a parser error as a message
            if isinstance(failure, HttpProcessingError) and self._parse_failure is None:
                self._parse_failure = (failure, *self._classify(failure, line_too_long))
        if parsed:
            self._last_payload = parsed[-1][1]

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._request_in_progress or self._messages or self.transport is None:
            return
        if self._head_bytes:
            self._guard.refused("head_timeout")
            log.debug("no complete request head from %s in time: closing", self.peername)
            self.transport.write(self._guard.timeout_answer)
        else:  # nothing was sent: an idle connection, closed without a word like any other
            self._guard.refused("idle")
        self.force_close()

    # -- requests ----------------------------------------------------------------------------
    def _counted_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: Any,
        task: asyncio.Task[None],
    ) -> BaseRequest:
        self._served += 1
        if self._served >= self._guard.settings.max_requests_per_connection and not message.should_close:
            message = message._replace(should_close=True)  # the answer then says Connection: close
        factory = self._app_request_factory
        assert factory is not None
        return factory(message, payload, protocol, writer, task)

    async def _refuse(self, request: BaseRequest) -> web.StreamResponse:
        error = RegistryError(
            ErrorCode.UNAVAILABLE,
            f"pullgate is serving its maximum of {self._guard.max_connections} connections; retry shortly",
            headers={"Retry-After": "1"},
        )
        response = render(error)
        response.force_close()
        return response

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        failure = self._parse_failure
        if failure is None or failure[0] is not exc:
            return super().handle_error(request, status, exc, message)
        _, code, text, reason = failure
        self._guard.refused(reason)
        log.debug("refused a request from %s: %s", self.peername, text)
        response = render(RegistryError(code, text))
        response.force_close()
        # aiohttp answers a request it could not parse as HTTP/1.0, which closes by default
        # and so carries no Connection header; say it anyway, clients reusing connections look.
        response.headers["Connection"] = "close"
        return response

    def _classify(self, exc: HttpProcessingError, line_too_long: bool) -> tuple[ErrorCode, str, str]:
        """The error code, message and metric reason for a request the parser refused."""
        settings = self._guard.settings
        if isinstance(exc, LineTooLong) and line_too_long:
            text = f"the request line is longer than {settings.max_request_line} bytes"
            return ErrorCode.REQUEST_LINE_TOO_LONG, text, "request_line_too_long"
        if isinstance(exc, LineTooLong):
            text = f"a request header (name and value) is longer than {settings.max_header_size} bytes"
            return ErrorCode.HEADERS_TOO_LARGE, text, "header_too_large"
        if "too many headers" in exc.message.lower():
            text = f"the request has more than {settings.max_headers} headers"
            return ErrorCode.HEADERS_TOO_LARGE, text, "too_many_headers"
        return ErrorCode.BAD_REQUEST, f"malformed HTTP request: {exc.message[:_MAX_QUOTED]}", "malformed"


def _raw_answer(status_line: str, error: RegistryError) -> bytes:
    """A complete HTTP/1.1 answer as bytes, for the moments no response object can be made."""
    body = json.dumps(error.body()).encode()
    head = (
        f"HTTP/1.1 {status_line}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Docker-Distribution-API-Version: registry/2.0\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
