"""Scanner processes are bounded in time and output, and never outlive their scan."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from proxy.scanning.backends._process import run_bounded
from proxy.scanning.backends.base import ScannerError

ENV = {"PATH": os.environ["PATH"]}


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody reaped yet (an orphan's parent is
    whatever PID 1 the sandbox has, which may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_returns_output_status_and_stderr() -> None:
    result = await run_bounded(
        ["sh", "-c", "echo out; echo err >&2; exit 3"], what="sh", env=ENV, time_limit=10, max_stdout=100
    )

    assert (result.returncode, result.stdout, result.stderr_tail) == (3, b"out\n", "err\n")


async def test_a_hung_process_group_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    started = time.monotonic()

    with pytest.raises(ScannerError) as caught:
        await run_bounded(["sh", "-c", script], what="sh", env=ENV, time_limit=0.5, max_stdout=100)

    assert time.monotonic() - started < 5
    assert caught.value.temporary is True
    assert "did not finish within 0.5s" in caught.value.message
    await asyncio.sleep(0.1)
    assert not alive(int(pid_file.read_text()))  # the grandchild went with the group


async def test_endless_output_is_cut_off() -> None:
    with pytest.raises(ScannerError) as caught:
        await run_bounded(["yes"], what="yes", env=ENV, time_limit=10, max_stdout=1 << 20)

    assert caught.value.temporary is False
    assert "more than 1048576 bytes" in caught.value.message


async def test_only_the_tail_of_stderr_is_kept() -> None:
    script = "head -c 200000 /dev/zero | tr '\\0' a >&2; echo END >&2"
    result = await run_bounded(["sh", "-c", script], what="sh", env=ENV, time_limit=10, max_stdout=100)

    assert len(result.stderr_tail) == 64 * 1024
    assert result.stderr_tail.endswith("aEND\n")


async def test_a_missing_program_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(ScannerError) as caught:
        await run_bounded([str(tmp_path / "nope")], what="nope", env=ENV, time_limit=1, max_stdout=1)

    assert caught.value.temporary is False
    assert "could not be started" in caught.value.message


async def test_cancelling_the_scan_kills_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(
        run_bounded(
            ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"],
            what="sh",
            env=ENV,
            time_limit=60,
            max_stdout=1,
        )
    )
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.02)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(int(pid_file.read_text()))
