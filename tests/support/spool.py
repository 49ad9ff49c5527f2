"""Another process writing a spool file, to stand for a live replica or a crashed one.

`spool_writer(directory)` starts a Python process that creates a spool file the way pullgate
does (`create_spool_file`: named for this kernel, locked), writes to it and waits. `kill()`
sends SIGKILL, so nothing of the writer runs any more: its file stays, its lock is gone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SpoolWriter", "spool_writer"]

_SCRIPT = """
import os, sys
from pathlib import Path
from proxy.storage.spool_files import create_spool_file
fd, path = create_spool_file(Path(sys.argv[1]))
os.write(fd, b"half a blob" * 1000)
print(path, flush=True)
sys.stdin.read()
"""
_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SpoolWriter:
    path: Path
    process: subprocess.Popen[str]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@contextmanager
def spool_writer(directory: Path) -> Iterator[SpoolWriter]:
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(directory)],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line, f"the spool writer exited {process.wait(10)} without creating a file"
        yield SpoolWriter(Path(line), process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
