"""The storage protocol every backend implements, and passes one contract suite for.

Content is addressed by digest only. Bytes enter a store through an `Upload`: a local spool
file that is written while it is hashed, and that becomes content only through `commit`,
which verifies digest and size first (DESIGN.md invariant 1). The spool file is readable
while it grows, which is how single-flight followers stream a blob that is still arriving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from proxy.oci.digest import Digest, DigestCheck

__all__ = [
    "DEFAULT_CHUNK",
    "BlobNotFoundError",
    "BlobStore",
    "PresigningStore",
    "Spill",
    "StorageError",
    "StorageFullError",
    "Upload",
]

DEFAULT_CHUNK = 256 * 1024


class StorageError(Exception):
    """The backend failed (disk full, bucket unreachable, permission denied...).

    `reason` is a short machine-readable cause for metrics: the errno's name in lower case
    ("enospc", "eio", "eacces"...) for local files, "backend" for everything else.
    """

    def __init__(self, message: str, *, reason: str = "backend", path: Path | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path


class StorageFullError(StorageError):
    """No space is left where the bytes had to go (ENOSPC, or EDQUOT: a quota is used up)."""


class BlobNotFoundError(StorageError):
    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        super().__init__(f"{digest} is not in the store")


class Upload(Protocol):
    """A spool file being filled. Not content until `commit` has verified it."""

    @property
    def path(self) -> Path:
        """The local spool file; readers may open it and follow it while it grows."""

    @property
    def size(self) -> int:
        """Bytes already in the spool file: a follower can always read this many from `path`.

        Backends may buffer writes (up to about 1 MiB), so this can lag what was passed to
        `write`; after `commit` it is the full size.
        """

    async def write(self, data: bytes) -> None:
        """Append bytes and feed them to the hash."""

    async def verify(self, digest: Digest, size: int | None = None) -> None:
        """Raise `DigestMismatchError` unless everything written is `digest` (and `size`).

        Every byte is in the spool file afterwards, readable at `path`. The upload stays
        open: `commit` (which then does not hash again) or `abort` follows. This lets a caller
        hand verified bytes to its readers before they are made durable and published.
        """

    async def commit(self, digest: Digest, size: int | None = None) -> None:
        """Verify, make durable and publish under `digest`.

        Raises `DigestMismatchError` (and removes the spool file) when the bytes written do
        not hash to `digest` or their length is not `size`; nothing is stored then.
        Committing content that is already present is not an error.
        """

    async def abort(self) -> None:
        """Discard the spool file. Safe to call more than once, and after `commit`."""

    def spill(self) -> Spill:
        """After `write` raised `StorageError`: what the caller needs to go on without the file.

        The upload is discarded by then (its spool file removed), but every byte handed to
        `write` was hashed: a caller can keep hashing what follows and still verify the whole.
        """


@dataclass(frozen=True, slots=True)
class Spill:
    """What an upload whose spool file could not be written leaves to its caller."""

    check: DigestCheck  # over every byte handed to `write`, those that never reached the file too
    in_file: int  # bytes that reached the spool file before it failed: [0, in_file)
    unwritten: bytes  # the bytes handed to `write` after those, in order


class BlobStore(Protocol):
    async def open(self) -> None:
        """Prepare the backend (create directories, check the bucket)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StorageError` unless the backend can be read and written now."""

    async def stat(self, digest: Digest) -> int | None:
        """The stored size, or None when the digest is not stored."""

    def read(
        self, digest: Digest, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        """Stream stored content (a byte range when offset/length are given).

        Raises `BlobNotFoundError` on first iteration when the digest is not stored.
        """

    async def read_all(self, digest: Digest, limit: int) -> bytes:
        """Small content (manifests) in one piece; `StorageError` when it exceeds `limit`."""

    def local_path(self, digest: Digest) -> Path | None:
        """A local file holding the content, for sendfile; None when the backend has none."""

    async def new_upload(self, *, expected: Digest | None = None) -> Upload:
        """A new spool file; `expected` (the digest the caller will commit) lets a backend
        start publishing before the last byte arrives (S3 multipart), never before `commit`."""

    async def put_bytes(self, digest: Digest, data: bytes) -> None:
        """Verify and store small content in one call (raises `DigestMismatchError`)."""

    async def delete(self, digest: Digest) -> bool:
        """Remove content; True when something was removed."""

    def iter_blobs(self) -> AsyncIterator[tuple[Digest, int]]:
        """Every stored digest with its size, in no particular order."""


@runtime_checkable
class PresigningStore(Protocol):
    """A store that can hand clients a URL to fetch a blob from directly (object storage)."""

    async def presigned_url(self, digest: Digest, expires: float = 900.0) -> str: ...
