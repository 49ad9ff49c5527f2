"""Uploads into the S3 backend: a local spool file written while hashed, sent to S3 once verified.

Followers of a fill stream from the spool file exactly as with the filesystem backend. When
the expected digest is known up front (`S3BlobStore.new_upload(expected=...)`), a blob larger
than one part starts a multipart upload under its final key while it is still arriving, and
commit only sends the last part and completes it: commit latency stays about one part long
whatever the blob's size. Nothing is visible under the key before CompleteMultipartUpload,
and that happens only after the digest and size were checked (DESIGN.md invariant 1).
"""

from __future__ import annotations

import contextlib
import enum
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles.os
from aiofiles.threadpool.binary import AsyncFileIO
from botocore.exceptions import ClientError

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage.base import StorageError
from proxy.storage.fsutil import failure, hash_file, in_thread
from proxy.storage.s3_client import S3Config, S3Keys, is_missing, location, s3_errors
from proxy.storage.s3_multipart import MultipartWriter

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

__all__ = ["S3Upload"]

_log = logging.getLogger(__name__)

# As in the filesystem backend: coalesce small upstream pieces before each thread hop.
_FLUSH_AT = 1024 * 1024


class _State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    DISCARDED = "discarded"


class S3Upload:
    """A spool file hashed with sha256 while written; `commit` verifies it, then puts it in S3.

    `size` counts the bytes already in the spool file (writes are buffered up to 1 MiB), so a
    reader following `path` can always read `size` bytes. One task writes an upload at a time.
    """

    def __init__(
        self,
        *,
        client: S3Client,
        config: S3Config,
        keys: S3Keys,
        file: AsyncFileIO,
        path: Path,
        expected: Digest | None,
    ) -> None:
        self._client = client
        self._config = config
        self._keys = keys
        self._file = file
        self._path = path
        self._expected_key = keys.blob(expected) if expected is not None else None
        self._hasher = Digest.hasher_for("sha256")
        self._buffer = bytearray()
        self._received = 0
        self._size = 0
        self._multipart: MultipartWriter | None = None
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
        if self._multipart is not None and (error := self._multipart.failure()) is not None:
            # The bucket refused a part: stop fetching now rather than at commit.
            raise StorageError(f"{error} (while streaming parts)") from error
        self._hasher.update(data)
        self._received += len(data)
        self._buffer += data
        if len(self._buffer) >= _FLUSH_AT:
            await self._flush()
            self._stream_parts()

    async def commit(self, digest: Digest, size: int | None = None) -> None:
        """Verify, then store under `digest`; see `BlobStore` for the contract.

        Only sha256 is computed while writing (see FilesystemUpload.commit for why); another
        algorithm makes commit read the spool file back once.
        """
        self._require_open()
        try:
            await self._verify(digest, size)
            await self._publish(self._keys.blob(digest))
        except BaseException:
            await self._discard()
            raise
        self._state = _State.COMMITTED
        await self._remove_spool()

    async def abort(self) -> None:
        if self._state is _State.OPEN:
            await self._discard()

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StorageError(f"upload {self._path.name} is already {self._state.value}")

    # -- verification and publishing --------------------------------------------------------
    async def _verify(self, digest: Digest, size: int | None) -> None:
        if size is not None and size != self._received:
            raise DigestMismatchError(digest, None, size, self._received)
        await self._flush()
        if digest.algorithm == "sha256":
            actual = Digest("sha256", self._hasher.hexdigest())
        else:
            encoded = await in_thread("hash", self._path, partial(hash_file, self._path, digest.algorithm))
            actual = Digest(digest.algorithm, encoded)
        if actual != digest:
            raise DigestMismatchError(digest, actual, size, self._received)

    async def _publish(self, key: str) -> None:
        if await self._exists(key):
            # Content-addressed: what is there is these very bytes, verified when it arrived.
            await self._drop_multipart()
            return
        if self._multipart is not None and self._multipart.key != key:
            await self._drop_multipart()  # streamed under another digest than the one committed
        if self._multipart is None and self._size <= self._config.part_size:
            await self._put_whole(key)
            return
        if self._multipart is None:
            self._multipart = self._start_multipart(key)
        await self._multipart.complete(self._size)

    async def _exists(self, key: str) -> bool:
        with s3_errors("HeadObject", location(self._config, key)):
            try:
                await self._client.head_object(Bucket=self._config.bucket, Key=key)
            except ClientError as exc:
                if is_missing(exc):
                    return False
                raise
        return True

    async def _put_whole(self, key: str) -> None:
        # At most one part's worth of bytes in memory: the same bound as a multipart upload.
        data = await in_thread("read", self._path, self._path.read_bytes)
        with s3_errors("PutObject", location(self._config, key)):
            await self._client.put_object(Bucket=self._config.bucket, Key=key, Body=data)

    # -- streaming parts while the spool file grows -----------------------------------------
    def _stream_parts(self) -> None:
        # Only a blob known to need several parts, under a key known in advance, goes up early.
        if self._multipart is None:
            if self._expected_key is None or self._size <= self._config.part_size:
                return
            self._multipart = self._start_multipart(self._expected_key)
        self._multipart.send_parts_up_to(self._size)

    def _start_multipart(self, key: str) -> MultipartWriter:
        return MultipartWriter(
            self._client,
            bucket=self._config.bucket,
            key=key,
            where=location(self._config, key),
            spool=self._path,
            part_size=self._config.part_size,
            max_concurrent=self._config.max_concurrent_parts,
        )

    async def _drop_multipart(self) -> None:
        if self._multipart is not None:
            multipart, self._multipart = self._multipart, None
            await multipart.abort()

    # -- the spool file ---------------------------------------------------------------------
    async def _flush(self) -> None:
        if not self._buffer:
            return
        pending, self._buffer = self._buffer, bytearray()
        view = memoryview(pending)
        try:
            # An unbuffered file may write less than asked (a signal, a nearly full disk).
            while view:
                written = await self._file.write(view)
                view = view[written:]
                self._size += written
        except OSError as exc:
            await self._discard()
            raise failure("write", self._path, exc) from exc

    async def _discard(self) -> None:
        self._state = _State.DISCARDED
        # Cleaning up must not hide the error that made us clean up.
        await self._drop_multipart()
        await self._remove_spool()

    async def _remove_spool(self) -> None:
        with contextlib.suppress(OSError):
            await self._file.close()
        try:
            await aiofiles.os.remove(self._path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove spool file %s: %s", self._path, exc.strerror)
