"""An open blob response from an upstream, read once, in chunks.

The client reads the first chunk while it may still retry (nothing has reached the caller
yet), so a connection reset right after the headers costs a retry, not a failed pull; the
stream hands that chunk on first, then reads the rest. A body that fails or ends early after
that raises `UpstreamError`: by then bytes may be on their way to clients, and only the
caller can decide what to do about that (the blob cache cuts its followers and stores nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from proxy.upstream.errors import UpstreamError, UpstreamErrorKind, redact_url, translate_client_errors

__all__ = ["FIRST_READ", "BlobStream", "read_first"]

FIRST_READ = 64 * 1024  # read inside the retried attempt; the rest is streamed


class BlobStream:
    """An open blob response. Read it once, with `chunks`, inside `open_blob`'s context."""

    def __init__(self, upstream: str, response: aiohttp.ClientResponse, first: bytes = b"") -> None:
        self.size: int | None = response.content_length
        self._upstream = upstream
        self._response = response
        self._first = first
        self._started = False

    def __repr__(self) -> str:
        return f"BlobStream(upstream={self._upstream!r}, size={self.size})"

    async def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in chunks of at most `chunk_size` bytes.

        Raises `UpstreamError` if the connection fails, stalls, or ends before Content-Length.
        """
        if self._started:
            raise RuntimeError("a blob stream can only be read once")
        self._started = True
        received = 0
        for start in range(0, len(self._first), chunk_size):
            piece = self._first[start : start + chunk_size]
            received += len(piece)
            yield piece
        self._first = b""
        while chunk := await self._read(chunk_size):
            received += len(chunk)
            yield chunk
        if self.size is not None and received != self.size:
            raise UpstreamError(
                self._upstream,
                UpstreamErrorKind.PROTOCOL,
                f"GET {redact_url(self._response.url)}: body ended after {received} of {self.size} bytes",
            )

    async def _read(self, chunk_size: int) -> bytes:
        with translate_client_errors(self._upstream, "GET", self._response.url):
            return await self._response.content.read(chunk_size)


async def read_first(upstream: str, response: aiohttp.ClientResponse) -> bytes:
    """The first bytes of a blob body (b"" for an empty one), read while a retry is still safe."""
    with translate_client_errors(upstream, "GET", response.url):
        return await response.content.read(FIRST_READ)
