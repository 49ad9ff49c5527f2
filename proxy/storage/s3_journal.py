"""Which multipart uploads a process has open, beside their spool files, so a crash costs nothing.

A multipart upload that a killed process started stays in the bucket, invisible and billed,
until someone aborts it. S3 keeps no owner for it that a sweeper could test, and the bucket
may be shared, so `abort_stale_uploads` can only go by age (a day by default). The journal
closes the gap: while a multipart upload is open, a small file ``<spool file>.multipart``
names its key and upload id. It is removed before its spool file is, so a journal whose spool
file is gone belongs to a process that died; `abort_orphaned_uploads` aborts those at start,
right after `spool_files.sweep_spool_files` removed the dead process's spool files.
"""

from __future__ import annotations

import json
import logging
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from proxy.storage.base import StorageError
from proxy.storage.fsutil import in_thread
from proxy.storage.s3_client import S3Config, error_code, location, s3_errors

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

__all__ = ["SUFFIX", "abort_orphaned_uploads", "forget_upload", "is_journal", "record_upload"]

log = logging.getLogger(__name__)

SUFFIX = ".multipart"


def is_journal(name: str) -> bool:
    return name.endswith(SUFFIX)


def journal_of(spool: Path) -> Path:
    return spool.with_name(spool.name + SUFFIX)


def record_upload(spool: Path, key: str, upload_id: str) -> None:
    """Blocking: note the upload beside its spool file (before any part goes up)."""
    journal_of(spool).write_text(json.dumps({"key": key, "upload_id": upload_id}))


def forget_upload(spool: Path) -> None:
    """Blocking: the upload was completed or aborted."""
    journal_of(spool).unlink(missing_ok=True)


def _orphans(spool_dir: Path) -> list[Path]:
    """Blocking: journals whose spool file is gone."""
    with os.scandir(spool_dir) as entries:
        names = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
    present = set(names)
    return [spool_dir / name for name in names if is_journal(name) and name[: -len(SUFFIX)] not in present]


def _read(journal: Path) -> tuple[str, str] | None:
    try:
        entry = json.loads(journal.read_text())
        return str(entry["key"]), str(entry["upload_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # cut short by the crash: the age rule will find the upload


async def abort_orphaned_uploads(client: S3Client, config: S3Config, spool_dir: Path) -> int:
    """Abort the multipart uploads of processes that died; how many. Failures are logged."""
    aborted = 0
    for journal in await in_thread("list", spool_dir, partial(_orphans, spool_dir)):
        entry = _read(journal)
        if entry is not None:
            key, upload_id = entry
            try:
                aborted += await _abort(client, config, key, upload_id)
            except StorageError as exc:
                log.warning("could not abort a crashed process's upload: %s; keeping %s", exc, journal)
                continue
        journal.unlink(missing_ok=True)
    return aborted


async def _abort(client: S3Client, config: S3Config, key: str, upload_id: str) -> int:
    with s3_errors("AbortMultipartUpload", location(config, key)):
        try:
            await client.abort_multipart_upload(Bucket=config.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":  # completed or aborted just before the crash
                return 0
            raise
    return 1
