"""One blob from its upstream stream into the store, for the clients following its fill.

Normally the bytes go into a spool file that followers read as it grows, and the upload is
committed once digest and size match. When storage fails on the way (disk full, an I/O
error, a bucket refusing parts), the clients must still get their blob and nothing
half-written may be kept: the upload is discarded, and the fill goes on in memory
(`Fill.spill`, `fill_window`), still hashed as the bytes pass, and still verified before any
follower receives the last byte. Nothing is stored then; the next request tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from proxy.cache.singleflight import Fill
from proxy.metrics import Metrics
from proxy.oci.digest import Digest, DigestCheck, DigestMismatchError
from proxy.storage import BlobStore, StorageError, Upload
from proxy.storage.base import StorageFullError
from proxy.upstream import BlobStream

__all__ = ["Copied", "FillAbandonedError", "copy_blob", "storage_failed"]

log = logging.getLogger(__name__)

_FILL_CHUNK = 1024 * 1024  # upstream reads: large pieces, fewer wake-ups per megabyte

StorageTrouble = Callable[[StorageError, int], None]  # (the error, bytes already stored)


class Copied(NamedTuple):
    size: int  # bytes verified
    stored: bool  # False: streamed to the followers only, storage failed


class FillAbandonedError(Exception):
    """Storage failed and every client went away: there is nobody left to stream to."""


async def copy_blob(
    *,
    store: BlobStore,
    fill: Fill,
    stream: BlobStream,
    digest: Digest,
    size: int | None,
    uploads: list[Upload],
    counted: Callable[[int], None],
    trouble: StorageTrouble,
    wanted: Callable[[], bool],
) -> Copied:
    """Copy and verify the blob, committing it unless storage fails."""
    upload: Upload | None = None
    check = DigestCheck(digest.algorithm)
    try:
        upload = await store.new_upload(expected=digest)
    except StorageError as exc:
        trouble(exc, 0)  # not even a spool file: everything goes through memory
        fill.begin(None, size)
    else:
        uploads.append(upload)
        fill.begin(upload.path, size)
    async for chunk in stream.chunks(_FILL_CHUNK):
        counted(len(chunk))
        if upload is not None:
            try:
                await upload.write(chunk)
            except StorageError as exc:
                check, upload = _spill(fill, upload, exc, trouble), None
                continue
            _check_size(digest, size, upload.size)
            fill.advance(upload.size)
        else:
            if not wanted():
                raise FillAbandonedError(f"nobody is waiting for {digest} any more")
            await fill.room()
            check.update(chunk)
            _check_size(digest, size, check.size)
            fill.feed(chunk)
    if upload is None:
        check.verify(digest, size)
        return Copied(check.size, stored=False)
    try:
        await upload.verify(digest, size)
        # The followers get the last byte now; making it durable (fsync, rename or the
        # object store's completion) happens while they finish, not before.
        fill.verify(upload.size)
        await upload.commit(digest, size)
    except StorageError as exc:
        # The last bytes, or the commit itself, failed: the bytes may still be whole.
        check = _spill(fill, upload, exc, trouble)
        check.verify(digest, size)
        return Copied(check.size, stored=False)
    return Copied(upload.size, stored=True)


def _spill(fill: Fill, upload: Upload, exc: StorageError, trouble: StorageTrouble) -> DigestCheck:
    spill = upload.spill()
    trouble(exc, spill.in_file)
    fill.spill(spill.in_file, spill.unwritten)
    return spill.check


def _check_size(digest: Digest, size: int | None, received: int) -> None:
    if size is not None and received > size:
        raise DigestMismatchError(digest, None, size, received)


def storage_failed(
    metrics: Metrics, exc: StorageError, digest: Digest, size: int | None, in_file: int
) -> None:
    """Say loudly that storage refused a blob (operators alert on this line), and count it."""
    metrics.storage_write_errors.labels(exc.reason).inc()
    what = "storage full" if isinstance(exc, StorageFullError) else "storage write failed"
    where = exc.path.parent if exc.path is not None else "the store"
    needed = f"{size - in_file} more bytes needed" if size is not None else "size unknown"
    log.error(
        "%s: cannot cache %s (%s bytes) in %s: %s; %s; serving it to its clients uncached",
        what,
        digest,
        size if size is not None else "unknown",
        where,
        exc,
        needed,
    )
