"""The S3 backend: verified content as objects in a bucket, spool files in a local directory.

Publishing is S3's own: an object appears under its key only once PutObject or
CompleteMultipartUpload has finished, so a reader finds either no blob or the whole verified
blob. Spool files stay local so that single-flight followers can stream a blob while it
arrives, as with the filesystem backend. There is no local content file: `local_path` is
always None and callers stream through `read` (or redirect to `presigned_url`).

A bucket may be shared by several pullgate processes, so `open()` aborts only multipart
uploads that a dead process's journal names (`s3_journal`) or that are old enough to be left
over from a crash (`S3Config.stale_upload_age`); spool files are swept as the filesystem
backend sweeps them (`spool_files`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles
import aiofiles.os
from botocore.exceptions import ClientError

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage.base import DEFAULT_CHUNK, BlobNotFoundError, StorageError
from proxy.storage.fsutil import check_range, in_thread, os_errors
from proxy.storage.s3_bucket import abort_stale_uploads, ensure_bucket
from proxy.storage.s3_client import (
    S3Config,
    S3Keys,
    error_code,
    is_missing,
    location,
    open_client,
    s3_errors,
)
from proxy.storage.s3_journal import abort_orphaned_uploads, is_journal
from proxy.storage.s3_upload import S3Upload
from proxy.storage.spool import open_spool
from proxy.storage.spool_files import sweep_spool_files

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import (
        GetObjectOutputTypeDef,
        ListObjectsV2OutputTypeDef,
    )

__all__ = ["S3BlobStore", "S3Config", "S3Upload"]

_log = logging.getLogger(__name__)

_PROBE = b"pullgate storage probe\n"
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class S3BlobStore:
    """Blobs as objects under `<prefix>blobs/<algorithm>/<hex>`, written only once verified."""

    def __init__(self, config: S3Config) -> None:
        self._config = config
        self._keys = S3Keys.under(config.prefix)
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._client: S3Client | None = None

    @property
    def config(self) -> S3Config:
        return self._config

    async def open(self) -> None:
        spool = self._config.spool_dir
        with os_errors("create directory", spool):
            await aiofiles.os.makedirs(spool, exist_ok=True)
        sweep = partial(sweep_spool_files, spool, self._config.stale_spool_age, keep=is_journal)
        removed = await in_thread("clean up", spool, sweep)
        if removed:
            _log.warning("removed %d spool file(s) left by a crash in %s", len(removed), spool)
        stack = contextlib.AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(open_client(self._config))
            await ensure_bucket(self._client, self._config)
            aborted = await abort_orphaned_uploads(self._client, self._config, spool)
            if aborted:
                _log.warning("aborted %d multipart upload(s) left by a crashed process", aborted)
            await abort_stale_uploads(self._client, self._config, self._keys)
        except BaseException:
            # app.py registers close() only once open() succeeded: release the pool here.
            self._client = None
            await stack.aclose()
            raise
        self._exit_stack = stack

    async def close(self) -> None:
        stack, self._exit_stack, self._client = self._exit_stack, None, None
        if stack is not None:
            await stack.aclose()

    async def ping(self) -> None:
        key = self._keys.probe()
        with s3_errors("probe", self._where(key)):
            await self._s3.put_object(Bucket=self._config.bucket, Key=key, Body=_PROBE)
            try:
                answer = await self._s3.get_object(Bucket=self._config.bucket, Key=key)
                async with answer["Body"] as body:
                    echoed = await body.read()
            finally:
                await self._s3.delete_object(Bucket=self._config.bucket, Key=key)
        if echoed != _PROBE:
            raise StorageError(f"probe failed for {self._where(key)}: read back different bytes")

    async def stat(self, digest: Digest) -> int | None:
        key = self._keys.blob(digest)
        with s3_errors("HeadObject", self._where(key)):
            try:
                head = await self._s3.head_object(Bucket=self._config.bucket, Key=key)
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
        return head["ContentLength"]

    async def read(
        self, digest: Digest, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        """Stream content with a ranged GET; an offset past the end yields nothing."""
        check_range(offset, length, chunk_size)
        if length == 0:  # no byte range can say "nothing": only existence is in question
            if await self.stat(digest) is None:
                raise BlobNotFoundError(digest)
            return
        key = self._keys.blob(digest)
        answer = await self._get(digest, key, _byte_range(offset, length))
        if answer is None:
            return
        async with answer["Body"] as body:
            while True:
                with s3_errors("GetObject", self._where(key)):
                    chunk = await body.read(chunk_size)
                if not chunk:
                    return
                yield chunk

    async def read_all(self, digest: Digest, limit: int) -> bytes:
        key = self._keys.blob(digest)
        answer = await self._get(digest, key, None)
        assert answer is not None  # an unranged GET is never "range not satisfiable"
        async with answer["Body"] as body:
            if answer["ContentLength"] > limit:
                raise StorageError(f"{digest} is larger than the limit of {limit} bytes")
            with s3_errors("GetObject", self._where(key)):
                return await body.read()

    def local_path(self, digest: Digest) -> Path | None:
        """Always None: content lives in the bucket, callers stream it."""
        return None

    async def presigned_url(self, digest: Digest, expires: float = 900.0) -> str:
        """A URL that lets anyone holding it GET the blob for `expires` seconds, for redirects.

        Signed locally: no request is made, and the blob's presence is not checked.
        """
        if not 1 <= expires <= _MAX_PRESIGN_SECONDS:  # SigV4's own limits
            raise ValueError(f"expires must be between 1 and {_MAX_PRESIGN_SECONDS} seconds, not {expires}")
        key = self._keys.blob(digest)
        with s3_errors("presign GetObject", self._where(key)):
            return await self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._config.bucket, "Key": key}, ExpiresIn=int(expires)
            )

    async def new_upload(self, *, expected: Digest | None = None) -> S3Upload:
        """A new upload; with `expected`, a large blob goes up to S3 while it still arrives."""
        spool = await open_spool(self._config.spool_dir, expected)
        return S3Upload(client=self._s3, config=self._config, keys=self._keys, spool=spool, expected=expected)

    async def put_bytes(self, digest: Digest, data: bytes) -> None:
        # Small content (manifests): verified in memory, no spool file. Writing it again when
        # it is present is harmless (the same bytes) and cheaper than asking first.
        actual = Digest.of(data, digest.algorithm)
        if actual != digest:
            raise DigestMismatchError(digest, actual, len(data), len(data))
        key = self._keys.blob(digest)
        with s3_errors("PutObject", self._where(key)):
            await self._s3.put_object(Bucket=self._config.bucket, Key=key, Body=data)

    async def delete(self, digest: Digest) -> bool:
        # DeleteObject succeeds for a missing key too: ask first to tell the caller which it was.
        if await self.stat(digest) is None:
            return False
        key = self._keys.blob(digest)
        with s3_errors("DeleteObject", self._where(key)):
            await self._s3.delete_object(Bucket=self._config.bucket, Key=key)
        return True

    async def iter_blobs(self) -> AsyncIterator[tuple[Digest, int]]:
        # One page (up to 1,000 keys) at a time keeps memory bounded for any bucket size.
        token: str | None = None
        while True:
            page = await self._list_page(token)
            for entry in page.get("Contents", []):
                digest = self._keys.digest_of(entry["Key"])
                if digest is not None:
                    yield digest, entry["Size"]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return

    # -- helpers --------------------------------------------------------------------------
    @property
    def _s3(self) -> S3Client:
        if self._client is None:
            raise StorageError(f"S3 store for bucket {self._config.bucket} is not open")
        return self._client

    def _where(self, key: str = "") -> str:
        return location(self._config, key)

    async def _get(self, digest: Digest, key: str, byte_range: str | None) -> GetObjectOutputTypeDef | None:
        """The object (None when the range starts past its end); BlobNotFoundError when absent."""
        with s3_errors("GetObject", self._where(key)):
            try:
                if byte_range is None:
                    return await self._s3.get_object(Bucket=self._config.bucket, Key=key)
                return await self._s3.get_object(Bucket=self._config.bucket, Key=key, Range=byte_range)
            except ClientError as exc:
                if is_missing(exc):
                    raise BlobNotFoundError(digest) from exc
                if error_code(exc) == "InvalidRange":  # the object exists; the range is empty
                    return None
                raise

    async def _list_page(self, token: str | None) -> ListObjectsV2OutputTypeDef:
        bucket, prefix = self._config.bucket, self._keys.blobs
        with s3_errors("ListObjectsV2", self._where(prefix)):
            if token is None:
                return await self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
            return await self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, ContinuationToken=token)


def _byte_range(offset: int, length: int | None) -> str | None:
    if offset == 0 and length is None:
        return None  # the whole object; also the only way to GET an empty one (RFC 9110 416)
    end = "" if length is None else str(offset + length - 1)
    return f"bytes={offset}-{end}"
