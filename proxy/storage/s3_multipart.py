"""One S3 multipart upload fed from a local spool file, part by part, while the file still grows.

S3 publishes a multipart object only on CompleteMultipartUpload, so parts may go up before the
content is verified: until `complete`, nothing is visible under the key. Every failure path
ends in `abort`, which stops the part uploads first and then aborts the upload, so that no
orphan parts keep costing storage. A crash can still leave an upload open: its journal entry
(`s3_journal`) lets the next start abort it; a bucket lifecycle rule for incomplete uploads
is still advised for uploads whose spool directory was lost with the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from proxy.storage.base import StorageError
from proxy.storage.fsutil import in_thread
from proxy.storage.s3_client import MAX_PARTS, s3_errors
from proxy.storage.s3_journal import forget_upload, record_upload

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

__all__ = ["MultipartWriter"]

_log = logging.getLogger(__name__)


class MultipartWriter:
    """Uploads `[n * part_size, (n + 1) * part_size)` of `spool` as part n + 1, in the background.

    At most `max_concurrent` parts are read and in flight at once, which bounds memory to about
    `max_concurrent * part_size`; writers never wait for S3, so followers of the spool file
    are not slowed down by the bucket.
    """

    def __init__(
        self,
        client: S3Client,
        *,
        bucket: str,
        key: str,
        where: str,
        spool: Path,
        part_size: int,
        max_concurrent: int,
    ) -> None:
        self.key = key
        self._client = client
        self._bucket = bucket
        self._spool = spool
        self._part_size = part_size
        self._slots = asyncio.Semaphore(max_concurrent)
        self._parts: list[asyncio.Task[CompletedPartTypeDef]] = []
        self._where = where
        # Created in the background too: the first part waits for it, the writer does not.
        self._upload_id = asyncio.create_task(self._create(), name=f"s3 create {key}")

    @property
    def parts_scheduled(self) -> int:
        return len(self._parts)

    def failure(self) -> BaseException | None:
        """The first error of a finished background request, if any (checked on every write)."""
        for task in (self._upload_id, *self._parts):
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    def send_parts_up_to(self, available: int, final: bool = False) -> None:
        """Start every part lying wholly below `available`; with `final`, the short last one too."""
        while True:
            start = len(self._parts) * self._part_size
            length = min(self._part_size, available - start)
            if length <= 0 or (length < self._part_size and not final):
                return
            if len(self._parts) >= MAX_PARTS:
                raise StorageError(
                    f"{self._where} needs more than {MAX_PARTS} parts of {self._part_size} bytes: raise part_size"
                )
            number = len(self._parts) + 1
            self._parts.append(
                asyncio.create_task(self._send(number, start, length), name=f"s3 part {number} {self.key}")
            )

    async def complete(self, total: int) -> None:
        """Send what is left, wait for every part, then publish the object."""
        self.send_parts_up_to(total, final=True)
        upload_id = await self._upload_id
        parts = list(await asyncio.gather(*self._parts))
        with s3_errors("CompleteMultipartUpload", self._where):
            await self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        await self._forget()

    async def abort(self) -> None:
        """Stop the parts, then abort the upload. Never raises: it runs while handling an error."""
        for task in self._parts:
            task.cancel()
        # A part still in flight when the abort lands could be stored after it: wait first.
        await asyncio.gather(*self._parts, return_exceptions=True)
        if self._upload_id.cancelled():
            return
        try:
            upload_id = await self._upload_id
        except Exception:
            return  # never created, so nothing to abort
        try:
            with s3_errors("AbortMultipartUpload", self._where):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self.key, UploadId=upload_id
                )
        except StorageError as exc:
            # The journal entry stays: once the spool file is gone, the next start retries.
            _log.warning("%s; the next start retries, or the bucket's lifecycle rule removes it", exc)
            return
        try:
            await self._forget()
        except StorageError as exc:
            _log.warning("%s", exc)

    async def _create(self) -> str:
        with s3_errors("CreateMultipartUpload", self._where):
            created = await self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key)
        upload_id = created["UploadId"]
        try:
            await in_thread("journal", self._spool, partial(record_upload, self._spool, self.key, upload_id))
        except StorageError:
            # Without its journal entry the upload could outlive a crash: do not use it.
            with contextlib.suppress(Exception):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self.key, UploadId=upload_id
                )
            raise
        return upload_id

    async def _forget(self) -> None:
        await in_thread("journal", self._spool, partial(forget_upload, self._spool))

    async def _send(self, number: int, start: int, length: int) -> CompletedPartTypeDef:
        upload_id = await self._upload_id
        async with self._slots:
            data = await in_thread("read", self._spool, partial(_read_range, self._spool, start, length))
            if len(data) != length:
                raise StorageError(f"spool file {self._spool} is shorter than part {number} of {self._where}")
            with s3_errors(f"UploadPart {number}", self._where):
                answer = await self._client.upload_part(
                    Bucket=self._bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=data
                )
        return {"PartNumber": number, "ETag": answer["ETag"]}


def _read_range(path: Path, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while length > 0:
            chunk = os.pread(fd, length, start)
            if not chunk:
                break
            chunks.append(chunk)
            start += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
