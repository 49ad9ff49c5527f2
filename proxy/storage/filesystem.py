"""The filesystem backend: verified content under ``root/blobs``, spool files under ``root/_uploads``.

Layout::

    root/blobs/<algorithm>/<first two hex>/<hex>   content, named by its digest
    root/_uploads/<random>                          spool files of uploads in progress

Spool files live under the same root as content so that publishing one is a rename within
one filesystem, which is atomic: a reader finds either no blob or the whole verified blob.
A crash mid-download leaves only a spool file, which the next `open()` removes (DESIGN.md
invariant 5). Several processes may share a root (replicas on one host or on a shared
filesystem): `open()` removes only spool files whose writer is provably gone, or that nobody
has touched for `stale_spool_age` (see `spool_files`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncBufferedReader

from proxy.oci.digest import SUPPORTED_ALGORITHMS, Digest
from proxy.storage.base import DEFAULT_CHUNK, BlobNotFoundError, StorageError
from proxy.storage.fs_upload import FilesystemUpload
from proxy.storage.fsutil import (
    check_range,
    digest_at,
    failure,
    files_with_sizes,
    in_thread,
    os_errors,
    subdirectories,
)
from proxy.storage.spool import open_spool
from proxy.storage.spool_files import sweep_spool_files

__all__ = ["FilesystemBlobStore", "FilesystemUpload"]

_log = logging.getLogger(__name__)

_PROBE = b"pullgate storage probe\n"
DEFAULT_STALE_SPOOL_AGE = 86400.0


# --- the store -------------------------------------------------------------------------------


class FilesystemBlobStore:
    """Blobs as files under `root`, published by an atomic rename once verified."""

    def __init__(self, root: Path, *, stale_spool_age: float | None = DEFAULT_STALE_SPOOL_AGE) -> None:
        self._root = root
        self._blobs = root / "blobs"
        self._uploads = root / "_uploads"
        self._stale_spool_age = stale_spool_age

    @property
    def root(self) -> Path:
        return self._root

    async def open(self) -> None:
        for directory in (self._uploads, *(self._blobs / name for name in SUPPORTED_ALGORITHMS)):
            with os_errors("create directory", directory):
                await aiofiles.os.makedirs(directory, exist_ok=True)
        removed = await in_thread(
            "clean up", self._uploads, partial(sweep_spool_files, self._uploads, self._stale_spool_age)
        )
        if removed:
            _log.warning("removed %d spool file(s) left by a crash in %s", len(removed), self._uploads)

    async def close(self) -> None:
        """Nothing to release: every open file belongs to a read or an upload."""

    async def ping(self) -> None:
        try:
            echoed = await self._probe()
        except StorageError as exc:
            raise StorageError(f"probe failed for {self._uploads}: {exc}", reason=exc.reason) from exc
        if echoed != _PROBE:
            raise StorageError(f"probe failed for {self._uploads}: read back different bytes")

    async def _probe(self) -> bytes:
        # A spool file like any other, so that one a crash leaves behind is swept too.
        spool = await open_spool(self._uploads)
        try:
            await spool.write(_PROBE)
            await spool.flush()
            with os_errors("read", spool.path):
                async with aiofiles.open(spool.path, "rb") as file:
                    return await file.read()
        finally:
            await spool.remove()

    async def stat(self, digest: Digest) -> int | None:
        path = self._path_of(digest)
        try:
            result = await aiofiles.os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise failure("stat", path, exc) from exc
        return result.st_size

    async def read(
        self, digest: Digest, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        """Stream content; an offset past the end yields nothing."""
        check_range(offset, length, chunk_size)
        path = self._path_of(digest)
        file = await self._open_blob(digest, path)
        try:
            with os_errors("seek", path):
                await file.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                wanted = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = await _read_chunk(file, path, wanted)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await file.close()

    async def read_all(self, digest: Digest, limit: int) -> bytes:
        path = self._path_of(digest)
        file = await self._open_blob(digest, path)
        try:
            with os_errors("read", path):
                data = await file.read(limit + 1)  # one byte more tells "too large" apart
        finally:
            await file.close()
        if len(data) > limit:
            raise StorageError(f"{digest} is larger than the limit of {limit} bytes")
        return data

    def local_path(self, digest: Digest) -> Path | None:
        path = self._path_of(digest)
        return path if path.is_file() else None

    async def new_upload(self, *, expected: Digest | None = None) -> FilesystemUpload:
        return FilesystemUpload(await open_spool(self._uploads, expected), self._path_of)

    async def put_bytes(self, digest: Digest, data: bytes) -> None:
        upload = await self.new_upload()
        try:
            await upload.write(data)
            await upload.commit(digest, len(data))
        finally:
            await upload.abort()  # a no-op once committed

    async def delete(self, digest: Digest) -> bool:
        path = self._path_of(digest)
        try:
            await aiofiles.os.remove(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise failure("delete", path, exc) from exc
        return True

    async def iter_blobs(self) -> AsyncIterator[tuple[Digest, int]]:
        # One directory listing per thread hop keeps memory bounded by a fan-out directory.
        for algorithm in SUPPORTED_ALGORITHMS:
            top = self._blobs / algorithm
            for fanout in await in_thread("list", top, partial(subdirectories, top)):
                for name, size in await in_thread("list", fanout, partial(files_with_sizes, fanout)):
                    digest = digest_at(algorithm, fanout.name, name)
                    if digest is not None:
                        yield digest, size

    def _path_of(self, digest: Digest) -> Path:
        # Digest is a plain dataclass anyone can construct; parsing it again here keeps a
        # crafted value such as Digest("sha256", "../../x") from naming a path outside root.
        checked = Digest.parse(str(digest))
        return self._blobs / checked.algorithm / checked.encoded[:2] / checked.encoded

    async def _open_blob(self, digest: Digest, path: Path) -> AsyncBufferedReader:
        try:
            return await aiofiles.open(path, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest) from exc
        except OSError as exc:
            raise failure("open", path, exc) from exc


async def _read_chunk(file: AsyncBufferedReader, path: Path, size: int) -> bytes:
    with os_errors("read", path):
        return await file.read(size)
