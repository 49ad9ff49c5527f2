"""Host an aiohttp application on its own event loop in a background thread.

Test servers (token server, relay, faulty registry) run beside the test's own loop so
that a proxy under test in the test loop, blocking subprocess calls and fixtures of any
scope can all talk to them without deadlocks or loop-scope mismatches.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

__all__ = ["ServedInThread", "ServerThread"]

_T = TypeVar("_T")
_START_TIMEOUT = 10.0


class ServerThread:
    """Serve ``app`` on 127.0.0.1 from a daemon thread; ``start()``/``stop()`` are synchronous.

    With ``ssl`` it serves HTTPS (``url`` says so).
    """

    def __init__(
        self,
        app: web.Application,
        *,
        port: int = 0,
        shutdown_timeout: float = 0.5,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.app = app
        self._ssl = ssl
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form registry references use."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://{self.host}"

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        """Run ``coro`` on the server's loop and wait for its result."""
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def start(self) -> Self:
        self._thread.start()
        self.port = self.call(self._start(), timeout=_START_TIMEOUT)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.call(self._stop(), timeout=self._shutdown_timeout + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _start(self) -> int:
        # handler_cancellation lets stop() end handlers that stall on purpose.
        self._runner = web.AppRunner(
            self.app, shutdown_timeout=self._shutdown_timeout, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port, ssl_context=self._ssl)
        await site.start()
        sockets = self._runner.addresses
        return int(sockets[0][1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServedInThread:
    """Base for test servers built on a `ServerThread`: address, start/stop, `with` support."""

    _server: ServerThread

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
