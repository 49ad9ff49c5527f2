"""The audit log: every decision a client met and every admin action, written in batches.

Reads page by keyset, newest first, on (created_at, id): ids break ties between events of
one batch, which share a timestamp more often than not, and a keyset page neither skips nor
repeats an event when new ones arrive meanwhile (an OFFSET page would).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, insert, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import InvalidCursor, decode_cursor, encode_cursor, from_db, page_size, to_db
from db.models import AuditEvent
from proxy.policy.model import Outcome

__all__ = ["AuditEventRow", "AuditStore", "NewAuditEvent", "Puller", "event_values"]

_SERVED = tuple(outcome.value for outcome in Outcome if outcome.serves)


@dataclass(frozen=True, slots=True)
class NewAuditEvent:
    created_at: datetime
    kind: str  # "pull", "admin" or "rescan" (a verdict a rescan changed)
    client_address: str | None = None
    user_agent: str | None = None
    identity: str | None = None
    upstream: str | None = None
    repository: str | None = None
    reference: str | None = None
    digest: str | None = None
    decision_id: str | None = None
    outcome: str | None = None
    reasons: Sequence[Mapping[str, Any]] = ()
    rule_ids: Sequence[str] = ()
    policy_version: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)  # admin actions: what changed


@dataclass(frozen=True, slots=True)
class AuditEventRow:
    id: int
    created_at: datetime
    kind: str
    client_address: str | None
    user_agent: str | None
    identity: str | None
    upstream: str | None
    repository: str | None
    reference: str | None
    digest: str | None
    decision_id: str | None
    outcome: str | None
    reasons: tuple[Mapping[str, Any], ...]
    rule_ids: tuple[str, ...]
    policy_version: int | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Puller:
    """One client (address and identity) that pulled a digest."""

    client_address: str | None
    identity: str | None
    first_at: datetime
    last_at: datetime
    pulls: int  # every attempt, whatever the outcome
    served: int  # the attempts that got the manifest (allow or warn)


class AuditStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def insert_events(self, events: Sequence[NewAuditEvent]) -> None:
        """Write a batch in one transaction: one INSERT statement, executed for all rows at once."""
        if not events:
            return
        # A Core insert on the table is a plain executemany: no ORM bulk-insert bookkeeping
        # on the event loop for every row (the audit writer runs beside live requests).
        statement = insert(cast(Table, AuditEvent.__table__))
        async with self._sessions.begin() as session:
            await session.execute(statement, [event_values(event) for event in events])

    async def query_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        upstream: str | None = None,
        repository: str | None = None,
        digest: str | None = None,
        outcome: str | None = None,
        client: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[AuditEventRow], str | None]:
        """A page of events, newest first, and the cursor of the next page (None: the last).

        `since` is inclusive, `until` exclusive; `client` matches the address or the
        identity. Raises InvalidCursor for a cursor this store did not hand out.
        """
        conditions: list[ColumnElement[bool]] = [
            column == value
            for column, value in (
                (AuditEvent.upstream, upstream),
                (AuditEvent.repository, repository),
                (AuditEvent.digest, digest),
                (AuditEvent.outcome, outcome),
                (AuditEvent.kind, kind),
            )
            if value is not None
        ]
        if since is not None:
            conditions.append(AuditEvent.created_at >= to_db(since))
        if until is not None:
            conditions.append(AuditEvent.created_at < to_db(until))
        if client is not None:
            conditions.append(or_(AuditEvent.client_address == client, AuditEvent.identity == client))
        if cursor is not None:
            conditions.append(_before(cursor))
        query = (
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(page_size(limit) + 1)
        )
        async with self._sessions() as session:
            records = (await session.scalars(query)).all()
        page = [_row(record) for record in records[:limit]]
        last = page[-1] if len(records) > limit else None
        return page, (encode_cursor([last.created_at.isoformat(), last.id]) if last else None)

    async def who_pulled(
        self, digest: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[Puller], str | None]:
        """Every client that pulled `digest`, with first and last time and counts.

        Ordered by (address, identity), so that new pulls arriving while a caller pages do
        not move clients between pages. Raises InvalidCursor for a foreign cursor.
        """
        # literal_column, not a bound '': PostgreSQL matches GROUP BY expressions textually,
        # and two bound parameters would be two different expressions to it.
        address = func.coalesce(AuditEvent.client_address, literal_column("''"))
        identity = func.coalesce(AuditEvent.identity, literal_column("''"))
        query = (
            select(
                address,
                identity,
                func.min(AuditEvent.created_at),
                func.max(AuditEvent.created_at),
                func.count(),
                func.sum(case((AuditEvent.outcome.in_(_SERVED), 1), else_=0)),
            )
            .where(AuditEvent.digest == digest, AuditEvent.kind == "pull")
            .group_by(address, identity)
            .order_by(address, identity)
            .limit(page_size(limit) + 1)
        )
        if cursor is not None:
            after_address, after_identity = decode_cursor(cursor, (str, str))
            query = query.where(tuple_(address, identity) > (after_address, after_identity))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        page = [
            Puller(a or None, i or None, from_db(first), from_db(last), int(count), int(served or 0))
            for a, i, first, last, count, served in rows[:limit]
        ]
        more = len(rows) > limit
        return page, (
            encode_cursor([page[-1].client_address or "", page[-1].identity or ""]) if more else None
        )


def _before(cursor: str) -> ColumnElement[bool]:
    created_at, event_id = decode_cursor(cursor, (str, int))
    try:
        at = to_db(datetime.fromisoformat(str(created_at)))
    except ValueError as exc:
        raise InvalidCursor from exc
    # A plain tuple on the right: each value is bound with its column's type.
    return tuple_(AuditEvent.created_at, AuditEvent.id) < (at, event_id)


def event_values(event: NewAuditEvent) -> dict[str, Any]:
    """The row of one event, for a Core insert."""
    return {
        "created_at": to_db(event.created_at),
        "kind": event.kind,
        "client_address": event.client_address,
        "user_agent": event.user_agent,
        "identity": event.identity,
        "upstream": event.upstream,
        "repository": event.repository,
        "reference": event.reference,
        "digest": event.digest,
        "decision_id": event.decision_id,
        "outcome": event.outcome,
        "reasons": [dict(reason) for reason in event.reasons],
        "rule_ids": list(event.rule_ids),
        "policy_version": event.policy_version,
        "detail": dict(event.detail),
    }


def _row(record: AuditEvent) -> AuditEventRow:
    return AuditEventRow(
        id=record.id,
        created_at=from_db(record.created_at),
        kind=record.kind,
        client_address=record.client_address,
        user_agent=record.user_agent,
        identity=record.identity,
        upstream=record.upstream,
        repository=record.repository,
        reference=record.reference,
        digest=record.digest,
        decision_id=record.decision_id,
        outcome=record.outcome,
        reasons=tuple(record.reasons),
        rule_ids=tuple(record.rule_ids),
        policy_version=record.policy_version,
        detail=record.detail,
    )
