"""Blocking filesystem helpers for the filesystem backend, and the OSError -> StorageError bridge.

Everything here that touches the disk is called through `in_thread`, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.storage.base import StorageError, StorageFullError

_T = TypeVar("_T")
_REHASH_CHUNK = 1024 * 1024
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def failure(operation: str, path: Path, exc: OSError) -> StorageError:
    # strerror ("No space left on device") and the path are what an operator needs; the
    # rest of the OSError (errno, a second filename) adds nothing for them.
    text = exc.strerror or type(exc).__name__
    reason = errno.errorcode.get(exc.errno, "oserror").lower() if exc.errno else "oserror"
    kind = StorageFullError if exc.errno in _FULL else StorageError
    return kind(f"{operation} failed for {path}: {text}", reason=reason, path=path)


@contextlib.contextmanager
def os_errors(operation: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise failure(operation, path, exc) from exc


async def in_thread(operation: str, path: Path, func: Callable[[], _T]) -> _T:
    """Run blocking filesystem work off the event loop, with OSError as StorageError."""
    loop = asyncio.get_running_loop()
    with os_errors(operation, path):
        return await loop.run_in_executor(None, func)


# --- blocking helpers, always called through in_thread -------------------------------------


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_directory(path: Path) -> bool:
    """Create `path` (its parent exists); True when it is new."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    return True


def publish(spool: Path, target: Path) -> None:
    """Give a verified, fsynced spool file its content name, durably."""
    created = make_directory(target.parent)
    if target.exists():
        # Content-addressed: what is there already is these very bytes, verified on arrival.
        spool.unlink()
        return
    os.replace(spool, target)
    # The rename is durable only once the directory holding the new name is on disk.
    fsync_directory(target.parent)
    if created:
        fsync_directory(target.parent.parent)


def hash_file(path: Path, algorithm: str) -> str:
    hasher = Digest.hasher_for(algorithm)
    with path.open("rb") as file:
        while chunk := file.read(_REHASH_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def subdirectories(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            return [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def entry_size(entry: os.DirEntry[str]) -> int | None:
    try:
        return entry.stat(follow_symlinks=False).st_size
    except FileNotFoundError:  # deleted while we were listing
        return None


def files_with_sizes(directory: Path) -> list[tuple[str, int]]:
    try:
        with os.scandir(directory) as entries:
            files = [entry for entry in entries if entry.is_file(follow_symlinks=False)]
            sizes = [(entry.name, entry_size(entry)) for entry in files]
    except FileNotFoundError:
        return []
    return [(name, size) for name, size in sizes if size is not None]


def digest_at(algorithm: str, fanout: str, name: str) -> Digest | None:
    """The digest a content path stands for, or None for anything else found in the tree."""
    try:
        digest = Digest.parse(f"{algorithm}:{name}")
    except InvalidDigestError:
        return None
    return digest if fanout == digest.encoded[:2] else None


def check_range(offset: int, length: int | None, chunk_size: int) -> None:
    if offset < 0 or (length is not None and length < 0):
        raise ValueError(f"invalid byte range: offset {offset}, length {length}")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
