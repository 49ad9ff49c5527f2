"""The audit writer's promises: batches, back-pressure instead of loss, retries, drain on stop,
and with ``ack`` durability, no answer before its record is committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from db.audit_queries import NewAuditEvent
from proxy.gate.audit import AuditUnavailableError, AuditWriter


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
    writer = AuditWriter(sink, queue_size=100, batch_size=10, flush_interval=0.05, durability="async")
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
    writer = AuditWriter(sink, queue_size=3, batch_size=2, flush_interval=0.01, durability="async")
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
    writer = AuditWriter(sink, queue_size=10, batch_size=10, flush_interval=0.01, durability="async")
    writer.start()
    await writer.record(_event(1))
    await asyncio.sleep(0.6)  # 0.1 s then 0.2 s of backoff
    await writer.close(5)
    assert sink.batches == [["r/1"]]


async def test_stop_drains_the_queue() -> None:
    sink = Sink()
    writer = AuditWriter(
        sink, queue_size=100, batch_size=7, flush_interval=10, durability="async"
    )  # would wait 10 s
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
    writer = AuditWriter(sink, queue_size=100, batch_size=5, flush_interval=0.01, durability="async")
    writer.start()
    for n in range(3):
        await writer.record(_event(n))
    with caplog.at_level(logging.ERROR, logger="proxy.gate.audit"):
        await writer.close(0.2)
    lost = [r for r in caplog.records if "audit record not written" in r.getMessage()]
    assert len(lost) == 3 and "r/0" in lost[0].getMessage()


# --- ack: the request waits for its record's commit --------------------------------------------


def _acking(sink: Sink, ack_timeout: float = 5.0) -> AuditWriter:
    writer = AuditWriter(sink, queue_size=1000, batch_size=500, flush_interval=10, ack_timeout=ack_timeout)
    writer.start()
    return writer


async def test_ack_returns_only_once_the_record_is_committed() -> None:
    sink = Sink()
    sink.gate.clear()  # the commit is slow
    writer = _acking(sink)
    request = asyncio.create_task(writer.record(_event(1)))
    await asyncio.sleep(0.05)
    assert not request.done() and sink.batches == []
    sink.gate.set()
    await asyncio.wait_for(request, 2)
    assert sink.batches == [["r/1"]]
    await writer.close(5)


async def test_ack_records_of_concurrent_requests_share_one_commit() -> None:
    sink = Sink()
    sink.gate.clear()
    writer = _acking(sink)
    first = asyncio.create_task(writer.record(_event(0)))
    await asyncio.sleep(0.01)  # its batch is being written (and stuck)
    others = [asyncio.create_task(writer.record(_event(n))) for n in range(1, 51)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in [first, *others])
    sink.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *others), 2)
    assert [len(batch) for batch in sink.batches] == [1, 50], "group commit: one batch for the 50"
    await writer.close(5)


async def test_ack_refuses_a_serving_request_as_soon_as_the_write_fails() -> None:
    sink = Sink()
    sink.failures = 3  # the database is down for a while
    writer = _acking(sink, ack_timeout=30)
    async with asyncio.timeout(5):  # not the 30 s timeout: the failed write wakes it
        with pytest.raises(AuditUnavailableError) as refused:
            await writer.record(_event(1))
    assert refused.value.failing
    # Known to be failing: the next serving request is refused at once, a refusal answered.
    with pytest.raises(AuditUnavailableError):
        await writer.record(_event(2))
    await writer.record(_event(3), serves=False)
    async with asyncio.timeout(10):  # 0.1 + 0.2 + 0.4 s of backoff, then the writes succeed
        while sum(len(b) for b in sink.batches) < 3:
            await asyncio.sleep(0.05)
    assert sorted(r for b in sink.batches for r in b) == ["r/1", "r/2", "r/3"], (
        "refused pulls are still audited once the database is back"
    )
    assert not writer.failing
    await writer.close(5)


async def test_ack_gives_up_waiting_after_the_timeout_and_still_writes_the_record() -> None:
    sink = Sink()
    sink.gate.clear()  # the commit hangs (a stalled database), no write fails yet
    writer = _acking(sink, ack_timeout=0.05)
    with pytest.raises(AuditUnavailableError) as refused:
        await writer.record(_event(1))
    assert not refused.value.failing
    async with asyncio.timeout(5):
        await writer.record(_event(2), serves=False)  # a refusal is answered anyway
    sink.gate.set()
    async with asyncio.timeout(10):
        while sum(len(b) for b in sink.batches) < 2:
            await asyncio.sleep(0.05)
    assert sorted(r for b in sink.batches for r in b) == ["r/1", "r/2"], "both are audited in the end"
    await writer.close(5)


async def test_ack_requests_still_waiting_at_stop_are_refused_and_their_records_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    sink.gate.clear()
    writer = _acking(sink)
    request = asyncio.create_task(writer.record(_event(7)))
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.ERROR, logger="proxy.gate.audit"):
        await writer.close(0.1)
    with pytest.raises(AuditUnavailableError):
        await request
    assert any("r/7" in r.getMessage() for r in caplog.records if "not written" in r.getMessage())
