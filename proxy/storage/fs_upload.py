"""Uploads into the filesystem backend: a spool file written while hashed, published by rename."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from proxy.oci.digest import Digest
from proxy.storage.base import Spill, StorageError
from proxy.storage.fsutil import in_thread, os_errors, publish
from proxy.storage.spool import HashedSpool

__all__ = ["FilesystemUpload"]


class _State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    DISCARDED = "discarded"


class FilesystemUpload:
    """A spool file under ``root/_uploads`` (see `HashedSpool`), published by rename."""

    def __init__(self, spool: HashedSpool, target_for: Callable[[Digest], Path]) -> None:
        self._spool = spool
        self._target_for = target_for
        self._state = _State.OPEN

    @property
    def path(self) -> Path:
        return self._spool.path

    @property
    def size(self) -> int:
        """Bytes in the spool file now, readable at `path`."""
        return self._spool.size

    async def write(self, data: bytes) -> None:
        self._require_open()
        try:
            await self._spool.write(data)
        except StorageError:
            await self._discard()
            raise

    async def verify(self, digest: Digest, size: int | None = None) -> None:
        self._require_open()
        await self._spool.verify(digest, size)

    async def commit(self, digest: Digest, size: int | None = None) -> None:
        """Verify, fsync and rename into place; see `BlobStore` for the contract."""
        self._require_open()
        target = self._target_for(digest)
        try:
            await self._spool.verify(digest, size)
            await self._persist(target)
        except BaseException:
            await self._discard()
            raise
        self._state = _State.COMMITTED

    async def abort(self) -> None:
        if self._state is _State.OPEN:
            await self._discard()

    def spill(self) -> Spill:
        return self._spool.spill()

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StorageError(f"upload {self.path.name} is already {self._state.value}")

    async def _persist(self, target: Path) -> None:
        path, file = self._spool.path, self._spool.file
        # The data must be on disk before the name is: otherwise a crash right after the
        # rename could leave a valid-looking content path holding zeros or nothing.
        await in_thread("fsync", path, partial(os.fsync, file.fileno()))
        # Renamed while still open, so still locked: a start-up sweep elsewhere cannot take it.
        await in_thread("publish", target, partial(publish, path, target))
        with os_errors("close", path):
            await file.close()

    async def _discard(self) -> None:
        self._state = _State.DISCARDED
        await self._spool.remove()
