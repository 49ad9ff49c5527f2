"""A TCP forwarder the test controls, for cutting a real server off from pullgate.

Put it between pullgate and its PostgreSQL server (or anything else spoken over TCP): it
relays the bytes both ways untouched, and on command

- ``refuse()``: stops listening, so new connections are refused (the server is "down");
  the connections already open are reset;
- ``drop()``: keeps listening but resets every connection, open or new, at once (a
  firewall sending RSTs, a server that crashes on every connection);
- ``stall()``: keeps every connection open and accepts new ones, but relays nothing
  (a partition: packets vanish, nobody says so);
- ``restore()``: relays again; stalled connections resume where they stopped.

Resets are real RSTs (``SO_LINGER`` 0), not polite FINs. The forwarder runs on its own
event loop in a thread (see ``serve.py``), so the test's loop and pullgate in it can block
on it without deadlocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = ["ForwardMode", "TcpForwarder", "reset"]

_T = TypeVar("_T")
_CHUNK = 64 * 1024
_LINGER_ZERO = struct.pack("ii", 1, 0)


class ForwardMode(StrEnum):
    RELAY = "relay"
    REFUSE = "refuse"
    DROP = "drop"
    STALL = "stall"


def reset(writer: asyncio.StreamWriter | asyncio.Transport) -> None:
    """Close a connection with a TCP RST: SO_LINGER 0, then close."""
    transport = writer.transport if isinstance(writer, asyncio.StreamWriter) else writer
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()


class TcpForwarder:
    """Listen on 127.0.0.1 (a fixed port once started) and forward to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = ForwardMode.RELAY
        self.accepted = 0  # connections accepted, ever
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    # -- control (from any thread) --------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        self._call(self._listen())
        return self

    def refuse(self) -> None:
        self._call(self._set(ForwardMode.REFUSE))

    def drop(self) -> None:
        self._call(self._set(ForwardMode.DROP))

    def stall(self) -> None:
        self._call(self._set(ForwardMode.STALL))

    def restore(self) -> None:
        self._call(self._set(ForwardMode.RELAY))

    @property
    def open_connections(self) -> int:
        return self._call(self._count())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._call(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(30)

    # -- on the forwarder's loop ----------------------------------------------------------
    async def _count(self) -> int:
        return len(self._links) // 2

    async def _listen(self) -> None:
        if self._flowing is None:
            self._flowing = asyncio.Event()
            self._flowing.set()
        # reuse_address (asyncio's default on Unix) lets restore() bind the same port again.
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port or 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set(self, mode: ForwardMode) -> None:
        assert self._flowing is not None
        previous, self.mode = self.mode, mode
        if mode is ForwardMode.STALL:
            self._flowing.clear()
            return
        if mode in (ForwardMode.REFUSE, ForwardMode.DROP):
            self._reset_all()
        if mode is ForwardMode.REFUSE and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if mode is ForwardMode.RELAY:
            if previous is ForwardMode.REFUSE:
                await self._listen()
            self._flowing.set()

    def _reset_all(self) -> None:
        for writer in list(self._links):
            reset(writer)
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode in (ForwardMode.DROP, ForwardMode.REFUSE):
            reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            reset(writer)
            return
        self._links.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, (writer, up_writer)))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        assert self._flowing is not None
        try:
            while data := await source.read(_CHUNK):
                await self._flowing.wait()  # a stall holds the bytes here, undelivered
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for end in pair:  # one side closed or failed: close the other like a proxy would
                if end in self._links:
                    self._links.discard(end)
                    end.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._reset_all()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
