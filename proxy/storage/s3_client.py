"""The S3 backend's configuration, its client, its key layout, and botocore errors -> StorageError.

Keys::

    <prefix>blobs/<algorithm>/<hex>     content, named by its digest
    <prefix>_probe/<random>             ping probes, removed at once

No fan-out directories: S3 keys are flat and scale without them.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import ClientCreatorContext, get_session
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.storage.base import StorageError

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

__all__ = [
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "S3Config",
    "S3Keys",
    "error_code",
    "failure",
    "is_missing",
    "location",
    "open_client",
    "s3_errors",
]

MiB = 1024 * 1024
# S3's own limits: parts other than the last are 5 MiB to 5 GiB, at most 10,000 per upload.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000

# HeadObject answers a missing key with a bare 404 (no body, so no error code of its own).
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, kw_only=True)
class S3Config:
    """Where the bucket is and how to talk to it. Validated on construction."""

    bucket: str
    spool_dir: Path  # local spool files; followers stream from them while they grow
    endpoint_url: str | None = None  # None: AWS itself, from the region
    region: str = "us-east-1"
    prefix: str = ""  # put before every key; a trailing "/" is added when missing
    access_key_id: str | None = None  # None (with no secret): botocore's default credential chain
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    verify: bool | Path = True  # False skips TLS verification; a path names a CA bundle
    connect_timeout: float = 5.0
    read_timeout: float = 60.0  # longest silence tolerated while reading a response
    max_attempts: int = 3  # botocore's "standard" retries, first attempt included
    max_pool_connections: int = 32
    part_size: int = 16 * MiB  # multipart part size; blobs up to this size go in one PUT
    max_concurrent_parts: int = 4  # per upload: memory use is about this times part_size
    create_bucket: bool = False  # create a missing bucket on open() instead of failing
    # open() aborts multipart uploads under the prefix older than this (seconds): a crash
    # leaves them. Not every upload in progress: other replicas may share the bucket.
    stale_upload_age: float | None = 86400.0
    # open() removes spool files of processes that provably died, and any not modified for
    # this long (seconds; see spool_files): the spool directory may be shared too.
    stale_spool_age: float | None = 86400.0

    def __post_init__(self) -> None:
        problems = []
        if not self.bucket:
            problems.append("bucket must not be empty")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            problems.append(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            problems.append("access_key_id and secret_access_key go together")
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in ("max_attempts", "max_pool_connections", "max_concurrent_parts"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if problems:
            raise ValueError("invalid S3 storage configuration: " + "; ".join(problems))


def open_client(config: S3Config) -> ClientCreatorContext[S3Client]:
    """An async context manager yielding the S3 client; it owns the connection pool."""
    botocore_config = AioConfig(
        signature_version="s3v4",  # presigned URLs too: SigV2 is refused by most regions
        s3={"addressing_style": config.addressing_style},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=config.max_pool_connections,
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        # botocore >= 1.36 adds CRC32 trailers to every upload and insists on checksums in
        # answers; S3-compatible servers (rclone, older MinIO, Ceph) reject or lack them.
        # Integrity comes from our own digest check anyway.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return get_session().create_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        verify=str(config.verify) if isinstance(config.verify, Path) else config.verify,
        config=botocore_config,
    )


@dataclass(frozen=True)
class S3Keys:
    """The key layout under one prefix."""

    prefix: str

    @classmethod
    def under(cls, prefix: str) -> S3Keys:
        prefix = prefix.lstrip("/")
        return cls(prefix if not prefix or prefix.endswith("/") else prefix + "/")

    @property
    def blobs(self) -> str:
        return f"{self.prefix}blobs/"

    def blob(self, digest: Digest) -> str:
        # Digest is a plain dataclass anyone can construct; parsing it again keeps a crafted
        # value such as Digest("sha256", "../x") from naming a key outside the layout.
        checked = Digest.parse(str(digest))
        return f"{self.blobs}{checked.algorithm}/{checked.encoded}"

    def digest_of(self, key: str) -> Digest | None:
        """The digest a content key stands for, or None for anything else in the bucket."""
        algorithm, _, encoded = key.removeprefix(self.blobs).partition("/")
        try:
            return Digest.parse(f"{algorithm}:{encoded}")
        except InvalidDigestError:
            return None

    def probe(self) -> str:
        return f"{self.prefix}_probe/{secrets.token_hex(8)}"


def location(config: S3Config, key: str = "") -> str:
    """How messages name an object: bucket, key and endpoint, never credentials."""
    endpoint = config.endpoint_url or f"AWS {config.region}"
    return f"s3://{config.bucket}/{key} at {endpoint}"


def is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING_CODES


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def failure(operation: str, where: str, exc: Exception) -> StorageError:
    """One line an operator can act on, instead of a botocore traceback."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        message = error.get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return StorageError(f"S3 {operation} of {where} failed: HTTP {status} {code} {message}".rstrip())
    if isinstance(exc, EndpointConnectionError):  # its own text repeats the whole URL
        return StorageError(f"S3 {operation} of {where} failed: cannot connect: {exc.kwargs.get('error')}")
    # Timeouts, a body cut short: say which, and what the client saw.
    return StorageError(f"S3 {operation} of {where} failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def s3_errors(operation: str, where: str) -> Iterator[None]:
    """Turn what botocore and aiohttp raise into `StorageError`; callers catch misses first."""
    try:
        yield
    except (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise failure(operation, where, exc) from exc
