"""The filesystem backend: verified content under ``root/blobs``, spool files under ``root/_uploads``.

Layout::

    root/blobs/<algorithm>/<first two hex>/<hex>   content, named by its digest
    root/_uploads/<random>                          spool files of uploads in progress

Spool files live under the same root as content so that publishing one is a rename within
one filesystem, which is atomic: a reader finds either no blob or the whole verified blob.
A crash mid-download leaves only a spool file, which the next `open()` removes (DESIGN.md
invariant 5). One process owns a root: `open()` treats every spool file older than itself
as left behind by a crash.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncBufferedReader, AsyncFileIO

from proxy.oci.digest import SUPPORTED_ALGORITHMS, Digest, DigestMismatchError
from proxy.storage.base import DEFAULT_CHUNK, BlobNotFoundError, StorageError
from proxy.storage.fsutil import (
    check_range,
    digest_at,
    failure,
    files_with_sizes,
    hash_file,
    in_thread,
    os_errors,
    publish,
    remove_stale_files,
    subdirectories,
)

__all__ = ["FilesystemBlobStore", "FilesystemUpload"]

_log = logging.getLogger(__name__)

# Upstream bodies arrive in pieces of a few KiB to 64 KiB. Handing each piece to a worker
# thread would cost thousands of thread hops for a 200 MB layer, so writes are coalesced.
_FLUSH_AT = 1024 * 1024
_PROBE = b"pullgate storage probe\n"


# --- uploads ---------------------------------------------------------------------------------


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


# --- the store -------------------------------------------------------------------------------


class FilesystemBlobStore:
    """Blobs as files under `root`, published by an atomic rename once verified."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._blobs = root / "blobs"
        self._uploads = root / "_uploads"

    @property
    def root(self) -> Path:
        return self._root

    async def open(self) -> None:
        started = time.time()
        for directory in (self._uploads, *(self._blobs / name for name in SUPPORTED_ALGORITHMS)):
            with os_errors("create directory", directory):
                await aiofiles.os.makedirs(directory, exist_ok=True)
        removed = await in_thread(
            "clean up", self._uploads, partial(remove_stale_files, self._uploads, started)
        )
        if removed:
            _log.warning("removed %d spool file(s) left by an earlier run in %s", removed, self._uploads)

    async def close(self) -> None:
        """Nothing to release: every open file belongs to a read or an upload."""

    async def ping(self) -> None:
        probe = self._uploads / f"ping-{secrets.token_hex(8)}"
        with os_errors("probe", probe):
            try:
                async with aiofiles.open(probe, "xb") as file:
                    await file.write(_PROBE)
                async with aiofiles.open(probe, "rb") as file:
                    echoed = await file.read()
            finally:
                with contextlib.suppress(FileNotFoundError):
                    await aiofiles.os.remove(probe)
        if echoed != _PROBE:
            raise StorageError(f"probe failed for {probe}: read back different bytes")

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

    async def new_upload(self) -> FilesystemUpload:
        path = self._uploads / secrets.token_hex(16)
        with os_errors("create spool file", path):
            # Unbuffered: bytes counted in `size` must be in the file for readers to follow.
            file = await aiofiles.open(path, "xb", buffering=0)
        return FilesystemUpload(file, path, self._path_of)

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
