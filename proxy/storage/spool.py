"""The spool file both backends write uploads through: hashed as bytes arrive, readable by
followers while it grows, verified before anything is published.

`size` counts the bytes already in the file, so a reader following `path` can always read
that many; small writes are coalesced up to 1 MiB before they reach the file. One task writes
a spool at a time. Publishing (rename, S3) is the backend's; this is only the part they share.

The file is created by `spool_files.create_spool_file`, locked for its whole life so that a
start-up sweep can tell it from one a crash left behind.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from pathlib import Path

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncFileIO

from proxy.oci.digest import Digest, DigestCheck, DigestMismatchError
from proxy.storage.base import Spill
from proxy.storage.fsutil import failure, hash_file, in_thread, os_errors
from proxy.storage.spool_files import create_spool_file

__all__ = ["HashedSpool", "open_spool"]

_log = logging.getLogger(__name__)

# Upstream bodies arrive in pieces of a few KiB to 64 KiB. Handing each piece to a worker
# thread would cost thousands of thread hops for a 200 MB layer, so writes are coalesced.
FLUSH_AT = 1024 * 1024


async def open_spool(directory: Path, expected: Digest | None = None) -> HashedSpool:
    """A new, locked spool file in `directory`, hashed with `expected`'s algorithm (else sha256)."""
    fd, path = await in_thread("create spool file", directory, partial(create_spool_file, directory))
    with os_errors("create spool file", path):
        # Unbuffered: bytes counted in `size` must be in the file for readers to follow.
        file = await aiofiles.open(fd, "wb", buffering=0)
    return HashedSpool(file, path, expected.algorithm if expected is not None else "sha256")


class HashedSpool:
    def __init__(self, file: AsyncFileIO, path: Path, algorithm: str = "sha256") -> None:
        self.file = file
        self.path = path
        self._check = DigestCheck(algorithm)
        self._buffer = bytearray()
        self._unwritten = b""  # what a failed write could not put in the file
        self.size = 0  # bytes in the file, readable at `path`
        # What `verify` last accepted: `commit` after `verify` must not read the file back again.
        self._verified: tuple[Digest, int | None] | None = None

    @property
    def received(self) -> int:
        """Bytes handed to `write`."""
        return self._check.size

    async def write(self, data: bytes) -> bool:
        """Hash and append; True when bytes reached the file (and `size` moved).

        Raises `StorageError` when the file cannot be written.
        """
        # Hash as bytes arrive, so that commit never has to read the upload back.
        self._check.update(data)
        self._verified = None
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

        The hash computed while writing is the expected digest's algorithm when the upload
        was told it, else sha256: hashing every blob twice would double the CPU cost of every
        download for a rarely used algorithm. Any other algorithm reads the file back once.
        """
        await self.flush()
        if self._verified == (digest, size):
            return
        if digest.algorithm == self._check.algorithm:
            self._check.verify(digest, size)
        else:
            if size is not None and size != self.received:
                raise DigestMismatchError(digest, None, size, self.received)
            encoded = await in_thread("hash", self.path, partial(hash_file, self.path, digest.algorithm))
            actual = Digest(digest.algorithm, encoded)
            if actual != digest:
                raise DigestMismatchError(digest, actual, size, self.received)
        self._verified = (digest, size)

    def spill(self) -> Spill:
        """The hash so far and the bytes not in the file (after a failed write, see `Upload.spill`)."""
        return Spill(self._check, self.size, self._unwritten + bytes(self._buffer))

    async def remove(self) -> None:
        """Delete and close the file. Failing to clean up must not hide the error that made
        us clean up: a spool file left behind is removed when the store next opens."""
        # Unlinked before it is closed (and so unlocked): a sweeper never finds it unlocked.
        try:
            await aiofiles.os.remove(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove spool file %s: %s", self.path, exc.strerror)
        with contextlib.suppress(OSError):
            await self.file.close()

    async def _write_out(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        try:
            # An unbuffered file may write less than asked (a signal, a nearly full disk).
            while view:
                written = await self.file.write(view)
                view = view[written:]
                self.size += written
        except OSError as exc:
            self._unwritten = bytes(view)
            raise failure("write", self.path, exc) from exc
