"""The audit writer's promises: batches, back-pressure instead of loss, retries, drain on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from db.audit_queries import NewAuditEvent
from proxy.gate.audit import AuditWriter


def _event(n: int) -> NewAuditEvent:
    return NewAuditEvent(created_at=datetime.now(UTC), kind="pull", repository=f"r/{n}")


class Sink:
    """Collects batches; can be told to fail or to hang, like a database having a bad day."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.failures = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, batch: Sequence[NewAuditEvent]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        self.batches.append([e.repository or "" for e in batch])


async def test_records_are_written_in_batches() -> None:
    sink = Sink()
    writer = AuditWriter(sink, queue_size=100, batch_size=10, flush_interval=0.05)
    writer.start()
    for n in range(25):
        await writer.record(_event(n))
    await asyncio.sleep(0.3)
    await writer.close(5)
    assert [len(b) for b in sink.batches] == [10, 10, 5]
    assert [r for b in sink.batches for r in b] == [f"r/{n}" for n in range(25)]


async def test_a_full_queue_makes_requests_wait_not_drop() -> None:
    sink = Sink()
    sink.gate.clear()  # the database is stuck
    writer = AuditWriter(sink, queue_size=3, batch_size=2, flush_interval=0.01)
    writer.start()
    for n in range(5):  # 2 taken into the batch in hand, 3 queued
        await writer.record(_event(n))
    await asyncio.sleep(0.05)
    blocked = asyncio.create_task(writer.record(_event(5)))
    await asyncio.sleep(0.05)
    assert not blocked.done(), "a full queue applies back-pressure"
    sink.gate.set()
    await asyncio.wait_for(blocked, 2)
    await writer.close(5)
    assert sorted(r for b in sink.batches for r in b) == sorted(f"r/{n}" for n in range(6))


async def test_failed_writes_are_retried_with_the_same_batch() -> None:
    sink = Sink()
    sink.failures = 2
    writer = AuditWriter(sink, queue_size=10, batch_size=10, flush_interval=0.01)
    writer.start()
    await writer.record(_event(1))
    await asyncio.sleep(0.6)  # 0.1 s then 0.2 s of backoff
    await writer.close(5)
    assert sink.batches == [["r/1"]]


async def test_stop_drains_the_queue() -> None:
    sink = Sink()
    writer = AuditWriter(sink, queue_size=100, batch_size=7, flush_interval=10)  # would wait 10 s
    writer.start()
    for n in range(20):
        await writer.record(_event(n))
    await writer.close(5)
    assert sum(len(b) for b in sink.batches) == 20 and writer.pending == 0


async def test_what_cannot_be_written_by_the_deadline_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    sink.gate.clear()
    writer = AuditWriter(sink, queue_size=100, batch_size=5, flush_interval=0.01)
    writer.start()
    for n in range(3):
        await writer.record(_event(n))
    with caplog.at_level(logging.ERROR, logger="proxy.gate.audit"):
        await writer.close(0.2)
    lost = [r for r in caplog.records if "audit record not written" in r.getMessage()]
    assert len(lost) == 3 and "r/0" in lost[0].getMessage()
