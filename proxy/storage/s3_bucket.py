"""Bucket housekeeping at start-up: check (or create) the bucket, abort uploads left by a crash."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from proxy.storage.base import StorageError
from proxy.storage.s3_client import S3Config, S3Keys, error_code, is_missing, location, s3_errors

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType
    from types_aiobotocore_s3.type_defs import MultipartUploadTypeDef

__all__ = ["abort_stale_uploads", "ensure_bucket"]

_log = logging.getLogger(__name__)


async def ensure_bucket(client: S3Client, config: S3Config) -> None:
    """Raise `StorageError` unless the bucket exists (or was just created, if allowed)."""
    where = location(config)
    with s3_errors("HeadBucket", where):
        try:
            await client.head_bucket(Bucket=config.bucket)
            return
        except ClientError as exc:
            if not (is_missing(exc) or error_code(exc) == "NoSuchBucket"):
                raise
    if not config.create_bucket:
        raise StorageError(f"bucket {where} does not exist: create it, or set create_bucket")
    with s3_errors("CreateBucket", where):
        try:
            if config.region == "us-east-1":  # the one region that refuses a location constraint
                await client.create_bucket(Bucket=config.bucket)
            else:
                region = cast("BucketLocationConstraintType", config.region)
                await client.create_bucket(
                    Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": region}
                )
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":  # another replica was quicker
                raise
    _log.info("created bucket %s", where)


async def abort_stale_uploads(client: S3Client, config: S3Config, keys: S3Keys) -> None:
    """Abort multipart uploads under the prefix left by a crash, so their parts stop costing.

    Only those older than `stale_upload_age`: younger ones may be another replica's, at work.
    Housekeeping only: a failure is logged, and the store works without it.
    """
    if config.stale_upload_age is None:
        return
    age = timedelta(seconds=config.stale_upload_age)
    cutoff = datetime.now(UTC) - age
    try:
        with s3_errors("ListMultipartUploads", location(config, keys.blobs)):
            stale = [u for u in await _uploads_in_progress(client, config, keys) if u["Initiated"] < cutoff]
            for upload in stale:
                await client.abort_multipart_upload(
                    Bucket=config.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
    except StorageError as exc:
        _log.warning("could not clean up stale multipart uploads: %s", exc)
        return
    if stale:
        _log.warning("aborted %d multipart upload(s) older than %s", len(stale), age)


async def _uploads_in_progress(
    client: S3Client, config: S3Config, keys: S3Keys
) -> list[MultipartUploadTypeDef]:
    # Only the first 1,000: enough to keep crash leftovers in check, a batch at every start.
    try:
        listed = await client.list_multipart_uploads(Bucket=config.bucket, Prefix=keys.blobs)
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":  # how rclone (gofakes3) says "none"
            return []
        raise
    return listed.get("Uploads", [])
