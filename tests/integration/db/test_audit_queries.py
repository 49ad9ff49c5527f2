"""The audit log: batch inserts, keyset pages newest first, filters, and who pulled a digest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.audit_queries import AuditEventRow, AuditStore, NewAuditEvent
from db.gate_queries import InvalidCursor, encode_cursor
from db.models import AuditEvent
from db.session import session_factory

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGESTS = [f"sha256:{number:064x}" for number in range(4)]
OUTCOMES = ["allow", "deny", "warn", "quarantine", "allow"]
CLIENTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


@pytest.fixture
def store(engine: AsyncEngine) -> AuditStore:
    return AuditStore(session_factory(engine))


def _events(count: int) -> list[NewAuditEvent]:
    """`count` pulls; ten share each second, as events of one batch do."""
    return [
        NewAuditEvent(
            created_at=T0 + timedelta(seconds=number // 10),
            kind="admin" if number % 50 == 49 else "pull",
            client_address=CLIENTS[number % 3],
            user_agent="containerd/1.6.20",
            identity="ci" if number % 7 == 0 else None,
            upstream="docker.io" if number % 2 else "ghcr.io",
            repository=f"library/app{number % 5}",
            reference="latest",
            digest=DIGESTS[number % 4],
            decision_id=f"decision-{number}",
            outcome=OUTCOMES[number % 5],
            reasons=[{"check": "rule", "message": f"event {number}", "rule_id": "r1"}],
            rule_ids=["r1"],
            policy_version=3,
            detail={"number": number},
        )
        for number in range(count)
    ]


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _count(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def _pages(store: AuditStore, limit: int, **filters: Any) -> list[AuditEventRow]:
    events: list[AuditEventRow] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.query_events(limit=limit, cursor=cursor, **filters)
        assert len(page) <= limit
        events += page
        if cursor is None:
            return events


def _newest_first(events: list[AuditEventRow]) -> list[tuple[datetime, int]]:
    return sorted(((e.created_at, e.id) for e in events), reverse=True)


# -- writing ----------------------------------------------------------------------------
async def test_a_batch_is_one_insert(engine: AsyncEngine, store: AuditStore) -> None:
    with _statements(engine) as statements:
        await store.insert_events(_events(1000))
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS")]
    assert len(inserts) == 1
    assert await _count(engine) == 1000


async def test_an_event_reads_back_as_written(store: AuditStore) -> None:
    written = NewAuditEvent(
        created_at=datetime(2026, 6, 1, 14, 0, tzinfo=UTC).astimezone(),  # any zone: stored as UTC
        kind="admin",
        identity="alice",
        detail={"action": "rule.update", "rule_id": "r1", "revision": 2},
    )
    await store.insert_events([written])
    (row,), cursor = await store.query_events()
    assert cursor is None
    assert row.created_at == written.created_at and row.created_at.tzinfo is not None
    assert (row.kind, row.identity, row.detail) == ("admin", "alice", written.detail)
    assert (row.reasons, row.rule_ids, row.digest, row.outcome) == ((), (), None, None)


async def test_an_empty_batch_writes_nothing(engine: AsyncEngine, store: AuditStore) -> None:
    await store.insert_events([])
    assert await _count(engine) == 0


# -- paging -----------------------------------------------------------------------------
async def test_pages_cover_every_event_once_newest_first(store: AuditStore) -> None:
    await store.insert_events(_events(1000))
    events = await _pages(store, 37)
    keys = [(e.created_at, e.id) for e in events]
    assert len(keys) == len(set(keys)) == 1000
    assert keys == _newest_first(events)
    assert keys[0][0] == T0 + timedelta(seconds=99) and keys[-1][0] == T0


async def test_new_events_do_not_shift_pages(store: AuditStore) -> None:
    await store.insert_events(_events(100))
    first, cursor = await store.query_events(limit=30)
    # Newer than every event so far: they belong before the first page, not on later ones.
    await store.insert_events([replace(e, created_at=e.created_at + timedelta(hours=1)) for e in _events(10)])
    rest = await _pages_from(store, cursor)
    assert len(first) + len(rest) == 100
    assert {e.id for e in first}.isdisjoint(e.id for e in rest)


async def _pages_from(store: AuditStore, cursor: str | None) -> list[AuditEventRow]:
    events: list[AuditEventRow] = []
    while cursor is not None:
        page, cursor = await store.query_events(limit=30, cursor=cursor)
        events += page
    return events


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        encode_cursor(["2026-06-01T12:00:00+00:00"]),
        encode_cursor([1, 2]),
        encode_cursor(["x", 1]),
    ],
)
async def test_a_foreign_cursor_is_refused(store: AuditStore, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await store.query_events(cursor=cursor)


# -- filters ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"digest": DIGESTS[1]}, lambda n: n % 4 == 1),
        ({"upstream": "docker.io", "repository": "library/app3"}, lambda n: n % 2 == 1 and n % 5 == 3),
        ({"outcome": "deny"}, lambda n: n % 5 == 1),
        ({"kind": "admin"}, lambda n: n % 50 == 49),
        ({"client": "10.0.0.2"}, lambda n: n % 3 == 1),
        ({"client": "ci"}, lambda n: n % 7 == 0),
        (
            {"since": T0 + timedelta(seconds=10), "until": T0 + timedelta(seconds=20)},
            lambda n: 100 <= n < 200,
        ),
        (
            {"digest": DIGESTS[0], "outcome": "allow", "kind": "pull"},
            lambda n: n % 4 == 0 and n % 5 in (0, 4) and n % 50 != 49,
        ),
    ],
)
async def test_filters_select_exactly_the_matching_events(
    store: AuditStore, filters: dict[str, Any], expected: Any
) -> None:
    await store.insert_events(_events(1000))
    events = await _pages(store, 25, **filters)
    assert sorted(int(e.detail["number"]) for e in events) == [n for n in range(1000) if expected(n)]
    assert [(e.created_at, e.id) for e in events] == _newest_first(events)


# -- who pulled -------------------------------------------------------------------------
async def test_who_pulled_groups_pulls_by_client(store: AuditStore) -> None:
    digest = DIGESTS[0]

    def pull(
        seconds: int, address: str | None, identity: str | None, outcome: str, **kw: Any
    ) -> NewAuditEvent:
        at = T0 + timedelta(seconds=seconds)
        values = {"digest": digest, "kind": "pull", **kw}
        return NewAuditEvent(at, client_address=address, identity=identity, outcome=outcome, **values)

    await store.insert_events(
        [
            pull(0, "10.0.0.1", None, "allow"),
            pull(5, "10.0.0.1", None, "deny"),
            pull(9, "10.0.0.1", None, "warn"),
            pull(3, "10.0.0.2", "ci", "deny"),
            pull(4, "10.0.0.2", None, "allow"),  # same address, other identity: another client
            pull(7, None, "robot", "quarantine"),
            pull(8, "10.0.0.9", None, "allow", digest=DIGESTS[1]),  # another digest
            pull(8, "10.0.0.8", None, "allow", kind="admin"),  # not a pull
        ]
    )
    pullers, cursor = await store.who_pulled(digest)
    assert cursor is None
    summary = [(p.client_address, p.identity, p.first_at, p.last_at, p.pulls, p.served) for p in pullers]
    at = [T0 + timedelta(seconds=seconds) for seconds in range(10)]
    assert summary == [
        (None, "robot", at[7], at[7], 1, 0),
        ("10.0.0.1", None, at[0], at[9], 3, 2),
        ("10.0.0.2", None, at[4], at[4], 1, 1),
        ("10.0.0.2", "ci", at[3], at[3], 1, 0),
    ]
    paged: list[Any] = []
    cursor = None
    while True:
        page, cursor = await store.who_pulled(digest, limit=1, cursor=cursor)
        paged += page
        if cursor is None:
            break
    assert paged == pullers


async def test_who_pulled_an_unknown_digest(store: AuditStore) -> None:
    assert await store.who_pulled(DIGESTS[3]) == ([], None)


async def test_a_page_holds_at_least_one_event(store: AuditStore) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await store.query_events(limit=0)
    with pytest.raises(ValueError, match="at least one"):
        await store.who_pulled(DIGESTS[0], limit=0)
