"""Decisions, and the quarantine queue's state machine and expiring releases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.decision_queries import DecisionRow, DecisionStore
from db.quarantine_queries import (
    InvalidTransition,
    QuarantineNotFound,
    QuarantineStatus,
    QuarantineStore,
)
from db.session import session_factory
from proxy.policy.model import Outcome, Reason

DIGEST = "sha256:" + "d" * 64
IMAGE = ("docker.io", "library/alpine", DIGEST)
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

PENDING, RELEASED, REJECTED = QuarantineStatus.PENDING, QuarantineStatus.RELEASED, QuarantineStatus.REJECTED


@pytest.fixture
def decisions(engine: AsyncEngine) -> DecisionStore:
    return DecisionStore(session_factory(engine))


@pytest.fixture
def quarantine(engine: AsyncEngine) -> QuarantineStore:
    return QuarantineStore(session_factory(engine))


def _decision(version: int, at: datetime, outcome: Outcome = Outcome.QUARANTINE) -> DecisionRow:
    reasons = (
        Reason("rule", "library/* needs review", rule_id="review-library", detail={"pattern": "library/*"}),
        Reason("default", "no other rule matched"),
    )
    return DecisionRow(str(uuid.uuid4()), *IMAGE, "3.20", outcome, reasons, version, at)


async def _hold(store: QuarantineStore, decision_id: str = "d1", at: datetime = T0, digest: str = DIGEST):
    return await store.hold(
        "docker.io",
        "library/alpine",
        digest,
        reference="3.20",
        decision_id=decision_id,
        rule_ids=["r"],
        at=at,
    )


# -- decisions --------------------------------------------------------------------------
async def test_a_decision_reads_back_as_recorded(decisions: DecisionStore) -> None:
    decision = _decision(7, T0)
    await decisions.record_decision(decision)
    assert await decisions.get_decision(decision.id) == decision
    assert decision.rule_ids == ("review-library",)
    assert await decisions.get_decision(str(uuid.uuid4())) is None


async def test_the_latest_decision_is_per_policy_version(decisions: DecisionStore) -> None:
    old, new = _decision(7, T0), _decision(7, T0 + timedelta(minutes=5), Outcome.ALLOW)
    other_version = _decision(8, T0 + timedelta(minutes=10))
    for decision in (new, old, other_version):
        await decisions.record_decision(decision)
    assert await decisions.latest_decision(*IMAGE, policy_version=7) == new
    assert await decisions.latest_decision(*IMAGE, policy_version=8) == other_version
    assert await decisions.latest_decision(*IMAGE, policy_version=9) is None
    assert await decisions.latest_decision("ghcr.io", "library/alpine", DIGEST, 7) is None


# -- the state machine ------------------------------------------------------------------
async def test_holding_twice_queues_once(quarantine: QuarantineStore) -> None:
    first = await _hold(quarantine, "d1")
    again = await _hold(quarantine, "d2", at=T0 + timedelta(hours=1))
    assert first == again
    assert (first.status, first.decision_id, first.rule_ids, first.reference) == (
        PENDING,
        "d1",
        ("r",),
        "3.20",
    )
    assert await quarantine.get_quarantine(*IMAGE) == first
    assert await quarantine.get_quarantine_by_id(first.id) == first


async def test_release_then_reject(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    released = await quarantine.release(entry.id, "alice", "scanned by hand")
    assert (released.status, released.reviewed_by, released.review_reason) == (
        RELEASED,
        "alice",
        "scanned by hand",
    )
    assert released.reviewed_at is not None and released.expires_at is None
    with pytest.raises(InvalidTransition, match="is released; it cannot become released"):
        await quarantine.release(entry.id, "bob", "again")
    rejected = await quarantine.reject(entry.id, "bob", "CVE found after all")
    assert (rejected.status, rejected.reviewed_by) == (REJECTED, "bob")
    assert await quarantine.get_quarantine_by_id(entry.id) == rejected


async def test_a_rejection_is_final(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    await quarantine.reject(entry.id, "alice", "no")
    for transition in (quarantine.release, quarantine.reject):
        with pytest.raises(InvalidTransition) as raised:
            await transition(entry.id, "bob", "yes")
        assert raised.value.status is REJECTED
    held = await _hold(quarantine, "d2", at=T0 + timedelta(days=30))
    assert (held.status, held.decision_id, held.reviewed_by) == (REJECTED, "d1", "alice")


async def test_reviewing_an_unknown_entry_is_reported(quarantine: QuarantineStore) -> None:
    with pytest.raises(QuarantineNotFound):
        await quarantine.release(12345, "alice", "?")
    with pytest.raises(QuarantineNotFound):
        await quarantine.reject(12345, "alice", "?")


# -- exceptions -------------------------------------------------------------------------
async def test_a_release_counts_until_it_expires(quarantine: QuarantineStore) -> None:
    assert await quarantine.review_state(*IMAGE, T0) is None  # never held
    entry = await _hold(quarantine)
    assert (await _state(quarantine, T0)) is PENDING
    await quarantine.release(entry.id, "alice", "until the fix ships", expires_at=T0 + timedelta(hours=1))
    assert await _state(quarantine, T0 + timedelta(minutes=59)) is RELEASED
    assert await quarantine.review_state(*IMAGE, T0 + timedelta(hours=1)) is None
    assert await quarantine.review_state(*IMAGE, T0 + timedelta(hours=2)) is None


async def test_an_expired_release_is_held_again(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    await quarantine.release(entry.id, "alice", "for now", expires_at=T0 + timedelta(hours=1))
    still = await _hold(quarantine, "d2", at=T0 + timedelta(minutes=30))
    assert (still.status, still.decision_id) == (RELEASED, "d1")
    again = await _hold(quarantine, "d3", at=T0 + timedelta(hours=2))
    assert (again.id, again.status, again.decision_id) == (entry.id, PENDING, "d3")
    assert (again.reviewed_by, again.reviewed_at, again.review_reason, again.expires_at) == (None,) * 4
    assert again.created_at == T0 + timedelta(hours=2)


async def test_a_release_without_expiry_lasts(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    await quarantine.release(entry.id, "alice", "vendored")
    assert await _state(quarantine, T0 + timedelta(days=3650)) is RELEASED


async def test_a_rejection_stays_in_force(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    await quarantine.release(entry.id, "alice", "ok", expires_at=T0 + timedelta(hours=1))
    await quarantine.reject(entry.id, "bob", "not ok")
    rejected = await quarantine.review_state(*IMAGE, T0 + timedelta(days=1))
    assert rejected is not None and (rejected.status, rejected.expires_at) == (REJECTED, None)


async def test_exceptions_are_per_repository(quarantine: QuarantineStore) -> None:
    entry = await _hold(quarantine)
    await quarantine.release(entry.id, "alice", "ok")
    assert await quarantine.review_state("docker.io", "library/other", DIGEST, T0) is None
    assert await quarantine.review_state("ghcr.io", "library/alpine", DIGEST, T0) is None


# -- the queue --------------------------------------------------------------------------
async def test_the_queue_pages_by_status(quarantine: QuarantineStore) -> None:
    entries = [await _hold(quarantine, digest=f"sha256:{number:064x}") for number in range(7)]
    for entry in entries[1::3]:  # 1 and 4
        await quarantine.release(entry.id, "alice", "ok")
    await quarantine.reject(entries[5].id, "alice", "no")
    assert await _all_pages(quarantine, PENDING, 2) == [entries[i].id for i in (0, 2, 3, 6)]
    assert await _all_pages(quarantine, RELEASED, 1) == [entries[i].id for i in (1, 4)]
    assert await _all_pages(quarantine, REJECTED, 5) == [entries[5].id]
    assert await _all_pages(quarantine, None, 3) == [entry.id for entry in entries]
    page, cursor = await quarantine.list_quarantine(PENDING, 4)
    assert len(page) == 4 and cursor is None  # an exactly full last page says so


async def _all_pages(store: QuarantineStore, status: QuarantineStatus | None, limit: int) -> list[int]:
    ids: list[int] = []
    cursor: int | None = None
    while True:
        page, cursor = await store.list_quarantine(status, limit, cursor)
        assert len(page) <= limit
        assert all(entry.status is status for entry in page) or status is None
        ids += [entry.id for entry in page]
        if cursor is None:
            return ids


async def _state(store: QuarantineStore, at: datetime) -> QuarantineStatus | None:
    entry = await store.review_state(*IMAGE, at)
    return entry.status if entry is not None else None
