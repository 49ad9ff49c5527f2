"""The spool file both backends write uploads through: hashed with sha256 as bytes arrive,
readable by followers while it grows, verified before anything is published.

`size` counts the bytes already in the file, so a reader following `path` can always read
that many; small writes are coalesced up to 1 MiB before they reach the file. One task writes
a spool at a time. Publishing (rename, S3) is the backend's; this is only the part they share.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from pathlib import Path

import aiofiles.os
from aiofiles.threadpool.binary import AsyncFileIO

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage.fsutil import failure, hash_file, in_thread

__all__ = ["HashedSpool"]

_log = logging.getLogger(__name__)

# Upstream bodies arrive in pieces of a few KiB to 64 KiB. Handing each piece to a worker
# thread would cost thousands of thread hops for a 200 MB layer, so writes are coalesced.
FLUSH_AT = 1024 * 1024


class HashedSpool:
    def __init__(self, file: AsyncFileIO, path: Path) -> None:
        self.file = file
        self.path = path
        self._hasher = Digest.hasher_for("sha256")
        self._buffer = bytearray()
        self.received = 0  # bytes handed to `write`
        self.size = 0  # bytes in the file, readable at `path`

    async def write(self, data: bytes) -> bool:
        """Hash and append; True when bytes reached the file (and `size` moved).

        Raises `StorageError` when the file cannot be written.
        """
        # Hash as bytes arrive, so that commit never has to read a sha256 upload back.
        self._hasher.update(data)
        self.received += len(data)
        if not self._buffer and len(data) >= FLUSH_AT:
            await self._write_out(data)  # already large: skip the copy into the buffer
            return True
        self._buffer += data
        if len(self._buffer) >= FLUSH_AT:
            await self.flush()
            return True
        return False

    async def flush(self) -> None:
        if self._buffer:
            pending, self._buffer = self._buffer, bytearray()
            await self._write_out(pending)

    async def verify(self, digest: Digest, size: int | None) -> None:
        """Raise `DigestMismatchError` unless the bytes written are `digest` (and `size`).

        Only sha256 is computed while writing, because the digest (and so its algorithm) is
        known only now and hashing every blob twice would double the CPU cost of every
        download for a rarely used algorithm. Another algorithm reads the file back once.
        """
        if size is not None and size != self.received:
            raise DigestMismatchError(digest, None, size, self.received)
        await self.flush()
        if digest.algorithm == "sha256":
            actual = Digest("sha256", self._hasher.hexdigest())
        else:
            encoded = await in_thread("hash", self.path, partial(hash_file, self.path, digest.algorithm))
            actual = Digest(digest.algorithm, encoded)
        if actual != digest:
            raise DigestMismatchError(digest, actual, size, self.received)

    async def remove(self) -> None:
        """Close and delete the file. Failing to clean up must not hide the error that made
        us clean up: a spool file left behind is removed when the store next opens."""
        with contextlib.suppress(OSError):
            await self.file.close()
        try:
            await aiofiles.os.remove(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove spool file %s: %s", self.path, exc.strerror)

    async def _write_out(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        try:
            # An unbuffered file may write less than asked (a signal, a nearly full disk).
            while view:
                written = await self.file.write(view)
                view = view[written:]
                self.size += written
        except OSError as exc:
            raise failure("write", self.path, exc) from exc
