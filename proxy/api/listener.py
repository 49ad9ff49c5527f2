"""The listening socket: aiohttp's TCP site, serving `GuardedRequestHandler` connections.

aiohttp's own `TCPSite` hands every connection to a plain `RequestHandler` and leaves the TLS
handshake the event loop's default minute; this site builds the guarded protocol and bounds
the handshake by the request-head deadline, so a client that connects and never finishes
TLS holds its descriptor no longer than one that never sends a request.
"""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web
from yarl import URL

from proxy.api.connections import ConnectionGuard, GuardedRequestHandler

__all__ = ["BACKLOG", "ListenerSite"]

# Connections the kernel may queue before accept(); aiohttp's 128 overflows under a burst of
# thousands of connects and clients then wait a second for their SYN to be retried.
BACKLOG = 2048


class ListenerSite(web.BaseSite):
    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        guard: ConnectionGuard,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=BACKLOG)
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return str(URL.build(scheme=scheme, host=self._host, port=self.port))

    @property
    def port(self) -> int:
        """The bound port (the one asked for until started; useful when that was 0)."""
        sockets = getattr(self._server, "sockets", None)  # asyncio's Server; not on the abstract type
        if sockets:
            return int(sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # the runner was set up before the site was made

        def protocol() -> GuardedRequestHandler:
            return GuardedRequestHandler(server, loop=loop, guard=self._guard)

        handshake = self._guard.settings.request_head_timeout if self._ssl_context else None
        self._server = await loop.create_server(
            protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=True,
            ssl_handshake_timeout=handshake,
        )
