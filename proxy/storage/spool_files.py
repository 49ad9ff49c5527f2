"""Spool files that prove whether their writer is alive, and the start-up sweep built on that.

A crash (kill -9, OOM, power loss) leaves spool files behind; a start-up sweep must remove
them, yet several processes may share the directory (replicas on one host, containers
sharing a volume, a shared filesystem), and a live replica's spool file must never go.
"Older than my own start" cannot tell the two apart, so every spool file says who owns it:

- its name starts with the boot id of the kernel that created it (``<boot id>.<random>``);
- its writer holds an exclusive ``flock`` on it from before its first byte until it is
  renamed into place or removed. The kernel drops the lock when the writer dies.

The sweep removes a spool file of this kernel (same boot id) once it holds that lock
itself: its owner is provably gone. A file of another boot id comes from another machine
sharing the directory, or from an earlier boot of this one; locks across machines are only
as good as the shared filesystem's, so such a file (and any file named otherwise) is removed
only when nothing has modified it for ``stale_age`` seconds.

Creating and sweeping race safely: a sweeper unlinks only while holding the lock; a writer
that took its lock only after a sweeper unlinked the name sees a link count of 0 and starts
again under a new name. Blocking functions: call them through `fsutil.in_thread`.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

__all__ = ["boot_id", "create_spool_file", "sweep_spool_files"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_OTHER_KERNEL = "no-boot-id"  # no /proc: every file falls under the age rule
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_ATTEMPTS = 10


@cache
def boot_id() -> str:
    """This kernel's boot id (32 hex digits), the same for every process and container on it."""
    try:
        return _BOOT_ID.read_text().strip().replace("-", "")
    except OSError:
        return _OTHER_KERNEL


def create_spool_file(directory: Path, suffix: str = "") -> tuple[int, Path]:
    """A new, empty spool file, open for writing and locked by this process: (fd, path)."""
    for _ in range(_ATTEMPTS):
        path = directory / f"{boot_id()}.{secrets.token_hex(16)}{suffix}"
        fd = os.open(path, _CREATE_FLAGS, 0o644)
        if _lock(fd) and os.fstat(fd).st_nlink > 0:
            return fd, path
        os.close(fd)  # a sweeper got there first: its name is gone, take another
    raise BlockingIOError(f"could not create a spool file in {directory}: swept {_ATTEMPTS} times in a row")


def sweep_spool_files(
    directory: Path, stale_age: float | None, keep: Callable[[str], bool] = lambda _name: False
) -> list[Path]:
    """Remove spool files whose owner is gone (see the module docstring); the paths removed.

    `keep(name)` exempts files the caller manages itself. `stale_age` None disables the age
    rule (only provably orphaned files go).
    """
    mine = f"{boot_id()}."
    cutoff = None if stale_age is None else time.time() - stale_age
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or keep(entry.name):
                continue
            path = Path(entry.path)
            if entry.name.startswith(mine):
                gone = _remove_if_unlocked(path)
            else:
                gone = cutoff is not None and _remove_if_older(path, cutoff)
            if gone:
                removed.append(path)
    return removed


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove_if_unlocked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False  # committed or removed by its owner meanwhile
    try:
        if not _lock(fd):
            return False  # its writer is alive
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _remove_if_older(path: Path, cutoff: float) -> bool:
    try:
        if path.stat().st_mtime >= cutoff:
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    return True
