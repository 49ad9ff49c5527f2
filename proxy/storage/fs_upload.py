"""Uploads into the filesystem backend: a spool file written while hashed, published by rename."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncFileIO

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage.base import StorageError
from proxy.storage.fsutil import (
    failure,
    hash_file,
    in_thread,
    os_errors,
    publish,
)

__all__ = ["FilesystemUpload"]

_log = logging.getLogger(__name__)

# Upstream bodies arrive in pieces of a few KiB to 64 KiB. Handing each piece to a worker
# thread would cost thousands of thread hops for a 200 MB layer, so writes are coalesced.
_FLUSH_AT = 1024 * 1024


class _State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    DISCARDED = "discarded"


class FilesystemUpload:
    """A spool file under ``root/_uploads``, hashed with sha256 while it is written.

    `size` counts the bytes already in the spool file, so a reader following `path` can
    always read `size` bytes from it. Small writes are buffered up to 1 MiB before they reach
    the file (and `size`); `commit` writes out the rest. One task writes an upload at a time.
    """

    def __init__(self, file: AsyncFileIO, path: Path, target_for: Callable[[Digest], Path]) -> None:
        self._file = file
        self._path = path
        self._target_for = target_for
        self._hasher = Digest.hasher_for("sha256")
        self._buffer = bytearray()
        self._received = 0
        self._size = 0
        self._state = _State.OPEN

    @property
    def path(self) -> Path:
        return self._path

    @property
    def size(self) -> int:
        """Bytes in the spool file now, readable at `path`."""
        return self._size

    async def write(self, data: bytes) -> None:
        self._require_open()
        # Hash as bytes arrive, so that commit never has to read a sha256 upload back.
        self._hasher.update(data)
        self._received += len(data)
        if not self._buffer and len(data) >= _FLUSH_AT:
            await self._write_out(data)  # already large: skip the copy into the buffer
            return
        self._buffer += data
        if len(self._buffer) >= _FLUSH_AT:
            await self._flush()

    async def commit(self, digest: Digest, size: int | None = None) -> None:
        """Verify, fsync and rename into place; see `BlobStore` for the contract.

        Only sha256 is computed while writing, because the digest (and so its algorithm) is
        known only now and hashing every blob twice would double the CPU cost of every
        download for a rarely used algorithm. A sha512 digest makes commit read the spool
        file back once to hash it.
        """
        self._require_open()
        target = self._target_for(digest)
        try:
            await self._verify(digest, size)
            await self._persist(target)
        except BaseException:
            await self._discard()
            raise
        self._state = _State.COMMITTED

    async def abort(self) -> None:
        if self._state is _State.OPEN:
            await self._discard()

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StorageError(f"upload {self._path.name} is already {self._state.value}")

    async def _flush(self) -> None:
        if self._buffer:
            pending, self._buffer = self._buffer, bytearray()
            await self._write_out(pending)

    async def _write_out(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        try:
            # An unbuffered file may write less than asked (a signal, a nearly full disk).
            while view:
                written = await self._file.write(view)
                view = view[written:]
                self._size += written
        except OSError as exc:
            await self._discard()
            raise failure("write", self._path, exc) from exc

    async def _verify(self, digest: Digest, size: int | None) -> None:
        if size is not None and size != self._received:
            raise DigestMismatchError(digest, None, size, self._received)
        await self._flush()
        actual = await self._actual_digest(digest.algorithm)
        if actual != digest:
            raise DigestMismatchError(digest, actual, size, self._received)

    async def _actual_digest(self, algorithm: str) -> Digest:
        if algorithm == "sha256":
            return Digest("sha256", self._hasher.hexdigest())
        encoded = await in_thread("hash", self._path, partial(hash_file, self._path, algorithm))
        return Digest(algorithm, encoded)

    async def _persist(self, target: Path) -> None:
        # The data must be on disk before the name is: otherwise a crash right after the
        # rename could leave a valid-looking content path holding zeros or nothing.
        await in_thread("fsync", self._path, partial(os.fsync, self._file.fileno()))
        with os_errors("close", self._path):
            await self._file.close()
        await in_thread("publish", target, partial(publish, self._path, target))

    async def _discard(self) -> None:
        self._state = _State.DISCARDED
        # Failing to clean up must not hide the error that made us clean up; a spool file
        # left behind is removed by the next open().
        with contextlib.suppress(OSError):
            await self._file.close()
        try:
            await aiofiles.os.remove(self._path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove spool file %s: %s", self._path, exc.strerror)
