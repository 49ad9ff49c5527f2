"""Uploads into the S3 backend: a local spool file written while hashed, sent to S3 once verified.

Followers of a fill stream from the spool file exactly as with the filesystem backend. When
the expected digest is known up front (`S3BlobStore.new_upload(expected=...)`), a blob larger
than one part starts a multipart upload under its final key while it is still arriving, and
commit only sends the last part and completes it: commit latency stays about one part long
whatever the blob's size. Nothing is visible under the key before CompleteMultipartUpload,
and that happens only after the digest and size were checked (DESIGN.md invariant 1).
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from proxy.oci.digest import Digest
from proxy.storage.base import Spill, StorageError
from proxy.storage.fsutil import in_thread
from proxy.storage.s3_client import S3Config, S3Keys, is_missing, location, s3_errors
from proxy.storage.s3_multipart import MultipartWriter
from proxy.storage.spool import HashedSpool

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

__all__ = ["S3Upload"]

_log = logging.getLogger(__name__)


class _State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    DISCARDED = "discarded"


class S3Upload:
    """A local spool file (see `HashedSpool`); `commit` verifies it, then puts it in S3."""

    def __init__(
        self,
        *,
        client: S3Client,
        config: S3Config,
        keys: S3Keys,
        spool: HashedSpool,
        expected: Digest | None,
    ) -> None:
        self._client = client
        self._config = config
        self._keys = keys
        self._spool = spool
        self._expected_key = keys.blob(expected) if expected is not None else None
        self._multipart: MultipartWriter | None = None
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
            flushed = await self._spool.write(data)
            if self._multipart is not None and (error := self._multipart.failure()) is not None:
                # The bucket refused a part: give up on storing it now rather than at commit.
                raise StorageError(f"{error} (while streaming parts)") from error
        except StorageError:
            await self._discard()
            raise
        if flushed:
            self._stream_parts()

    async def verify(self, digest: Digest, size: int | None = None) -> None:
        self._require_open()
        await self._spool.verify(digest, size)

    async def commit(self, digest: Digest, size: int | None = None) -> None:
        """Verify, then store under `digest`; see `BlobStore` for the contract."""
        self._require_open()
        try:
            await self._spool.verify(digest, size)
            await self._publish(self._keys.blob(digest))
        except BaseException:
            await self._discard()
            raise
        self._state = _State.COMMITTED
        await self._spool.remove()

    async def abort(self) -> None:
        if self._state is _State.OPEN:
            await self._discard()

    def spill(self) -> Spill:
        return self._spool.spill()

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StorageError(f"upload {self.path.name} is already {self._state.value}")

    # -- publishing ---------------------------------------------------------------------------
    async def _publish(self, key: str) -> None:
        if await self._exists(key):
            # Content-addressed: what is there is these very bytes, verified when it arrived.
            await self._drop_multipart()
            return
        if self._multipart is not None and self._multipart.key != key:
            await self._drop_multipart()  # streamed under another digest than the one committed
        if self._multipart is None and self._spool.size <= self._config.part_size:
            await self._put_whole(key)
            return
        if self._multipart is None:
            self._multipart = self._start_multipart(key)
        await self._multipart.complete(self._spool.size)

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
        data = await in_thread("read", self.path, self.path.read_bytes)
        with s3_errors("PutObject", location(self._config, key)):
            await self._client.put_object(Bucket=self._config.bucket, Key=key, Body=data)

    # -- streaming parts while the spool file grows -----------------------------------------
    def _stream_parts(self) -> None:
        # Only a blob known to need several parts, under a key known in advance, goes up early.
        if self._multipart is None:
            if self._expected_key is None or self._spool.size <= self._config.part_size:
                return
            self._multipart = self._start_multipart(self._expected_key)
        self._multipart.send_parts_up_to(self._spool.size)

    def _start_multipart(self, key: str) -> MultipartWriter:
        return MultipartWriter(
            self._client,
            bucket=self._config.bucket,
            key=key,
            where=location(self._config, key),
            spool=self.path,
            part_size=self._config.part_size,
            max_concurrent=self._config.max_concurrent_parts,
        )

    async def _drop_multipart(self) -> None:
        if self._multipart is not None:
            multipart, self._multipart = self._multipart, None
            await multipart.abort()

    # -- clean-up -----------------------------------------------------------------------------
    async def _discard(self) -> None:
        self._state = _State.DISCARDED
        # Cleaning up must not hide the error that made us clean up.
        await self._drop_multipart()
        await self._spool.remove()
