"""HTTP/1.1 on raw sockets: what a hostile (or just unusual) client sends, byte for byte.

aiohttp's client would refuse to send an oversized header or trickle a request head, and
hides when the server closes a connection; these helpers do neither.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDict

__all__ = ["Answer", "closed_by_server", "connect", "exchange", "read_answer", "request_bytes"]

SAFETY = 30.0  # no single read waits longer: a hung test fails instead of hanging CI


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def oci_code(self) -> str:
        return str(self.json["errors"][0]["code"])


async def connect(
    host: str, port: int, *, context: ssl.SSLContext | None = None, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connecting, so the receive window starts small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return await asyncio.open_connection(sock=sock, ssl=context, server_hostname=host if context else None)


def request_bytes(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: pullgate",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader, *, head_only: bool = False) -> Answer:
    async with asyncio.timeout(SAFETY):
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        headers: CIMultiDict[str] = CIMultiDict()
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers.add(name.strip(), value.strip())
        length = int(headers.get("Content-Length", "0"))
        body = b"" if head_only else await reader.readexactly(length)
        return Answer(status, headers, body)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> Answer:
    writer.write(raw)
    await writer.drain()
    return await read_answer(reader, head_only=raw.startswith(b"HEAD "))


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = SAFETY) -> bytes:
    """Everything the server still sends, once it closes the connection (fails if it does not)."""
    rest = bytearray()
    async with asyncio.timeout(timeout):
        try:
            while chunk := await reader.read(65536):
                rest += chunk
        except ConnectionResetError:
            pass  # closed with a reset: closed all the same
    return bytes(rest)
