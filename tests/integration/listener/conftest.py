"""The listener's test world: real `pullgate serve` processes, driven over raw sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.pullgate_process import PullgateProcess, start_pullgate_process

StartPullgate = Callable[..., Awaitable[PullgateProcess]]


@pytest.fixture
def serve_pullgate(tmp_path: Path) -> Iterator[StartPullgate]:
    """``await serve_pullgate(upstreams, **settings)``: a `pullgate serve` process, stopped after the test."""
    started: list[PullgateProcess] = []

    async def start(upstreams: list[dict[str, Any]], **settings: Any) -> PullgateProcess:
        work_dir = tmp_path / f"pullgate{len(started)}"
        process = await asyncio.to_thread(start_pullgate_process, work_dir, upstreams, **settings)
        started.append(process)
        print(f"[serve_pullgate] log: {process.log_path}")
        return process

    yield start
    for process in started:
        process.stop()
