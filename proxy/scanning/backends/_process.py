"""Run a scanner process with a deadline and bounded output, never blocking the event loop.

A scanner is a large program fed hostile input (image layers); it may hang or print without
end. Its stdout is read up to a limit, its stderr keeps only a tail for error messages,
and on a deadline, an overflow or a cancellation its whole process group is killed and
reaped before the error propagates, so no scanner outlives the scan that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from proxy.scanning.backends.base import ScannerError

__all__ = ["Completed", "run_bounded"]

_CHUNK = 64 * 1024
_STDERR_TAIL = 64 * 1024


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr_tail: str  # the last 64 KiB of stderr, decoded leniently


async def run_bounded(
    argv: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str],
    time_limit: float,
    max_stdout: int,
    cwd: Path | None = None,
) -> Completed:
    """Run `argv`, killed after `time_limit` seconds; raises `ScannerError`: temporary when
    it ran out of time, permanent when it could not start or wrote more than `max_stdout`."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,  # its own process group, so a kill reaches any children
        )
    except OSError as error:
        raise ScannerError(f"{what} could not be started: {error}", temporary=False) from None
    assert process.stdout is not None and process.stderr is not None
    stderr_task = asyncio.create_task(_read_tail(process.stderr))
    try:
        async with asyncio.timeout(time_limit):
            stdout = await _read_capped(process.stdout, max_stdout, what)
            returncode = await process.wait()
    except TimeoutError:
        raise ScannerError(f"{what} did not finish within {time_limit:g}s", temporary=True) from None
    finally:
        if process.returncode is None:
            _kill(process)
            # Read stdout to its end while reaping: a pipe left full and unread keeps its
            # transport paused, it never sees the end of the file, and wait() never returns.
            await asyncio.gather(process.wait(), _discard(process.stdout))
        stderr = await stderr_task  # the pipe closes once the process is gone
    return Completed(returncode, stdout, stderr.decode(errors="replace"))


async def _read_capped(stream: asyncio.StreamReader, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ScannerError(f"{what} wrote more than {limit} bytes of output", temporary=False)
        chunks.append(chunk)
    return b"".join(chunks)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(_CHUNK):
        pass


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    tail = b""
    while chunk := await stream.read(_CHUNK):
        tail = (tail + chunk)[-_STDERR_TAIL:]
    return tail


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
