"""A small real tmpfs, for running pullgate out of disk space (ENOSPC) on purpose.

Mounting needs root, which the test command and CI have. Anywhere else the test fails with
a message saying so: a disk-full test that silently skipped would prove nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["fill_up", "free_bytes", "mounted_tmpfs"]

_MiB = 1024 * 1024


@contextmanager
def mounted_tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes at `path` (created), unmounted afterwards."""
    if os.geteuid() != 0:
        raise AssertionError(
            "this test mounts a tmpfs (mount -t tmpfs) to fill a disk for real, which needs root: "
            "run it as root, as scripts/test.sh does in CI"
        )
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    try:
        yield path
    finally:
        # Lazy: a process the test left behind must not keep the mount (and the test) alive.
        subprocess.run(["umount", "--lazy", str(path)], check=False, capture_output=True)


def fill_up(path: Path, leave: int = 0) -> int:
    """Write `path` until the filesystem is full (less `leave` bytes, roughly); bytes written."""
    written = 0
    with path.open("wb", buffering=0) as file:
        for piece in (_MiB, 64 * 1024, 4096, 512):
            with suppress(OSError):  # ENOSPC: on to smaller pieces
                while count := file.write(b"\0" * piece):
                    written += count
        if leave:
            file.truncate(max(0, written - leave))
            written = max(0, written - leave)
    return written


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
