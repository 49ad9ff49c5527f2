"""Aggregates over the audit log for dashboards: pulls per outcome over time, the reasons and
images most often refused, and each scanned image's findings by severity.

Everything is counted in the database (one GROUP BY per question) over a bounded time range,
so the answer costs the same whether the log holds a thousand pulls or ten million; the
range condition and `kind = 'pull'` walk `ix_audit_events_pulls` (kind, created_at, outcome).

Time buckets are computed in SQL as whole multiples of the bucket width after `since`: the
two dialects spell "seconds since the epoch" differently (`julianday` on SQLite, `extract`
on PostgreSQL), and only that expression differs. Grouping happens over a subquery's
labelled columns, because PostgreSQL matches GROUP BY expressions textually and the same
expression with fresh bound parameters would be a different one to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Float, Integer, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, to_db
from db.models import AuditEvent
from db.scan_models import ScanFindingRecord, ScanRecord

__all__ = ["ImageCount", "ReasonCount", "ScanSummary", "StatsQueries"]

_UNIX_EPOCH_JULIAN_DAY = 2440587.5


@dataclass(frozen=True, slots=True)
class ReasonCount:
    check: str  # rule, default, signature, vulnerability, review, gate, ...
    source: str | None  # the rule, requirement or policy id that decided, if one
    count: int
    example: str  # one message with this check and source (the latest in text order)
    last_at: datetime


@dataclass(frozen=True, slots=True)
class ImageCount:
    upstream: str
    repository: str
    digest: str
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class ScanSummary:
    digest: str
    scanner: str
    db_version: str
    finished_at: datetime | None
    by_severity: dict[int, int]  # Severity value -> distinct findings


class StatsQueries:
    """Read-only: meant to run over `db.session.read_only` sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def pulls_by_bucket(
        self, since: datetime, until: datetime, width_seconds: float
    ) -> list[tuple[int, str, int]]:
        """(bucket index, outcome, pulls) for every bucket with pulls; bucket 0 starts at `since`."""
        async with self._sessions() as session:
            seconds = _seconds_after(session, since)
            bucket = _floor(session, seconds / literal(width_seconds, Float))
            inner = (
                select(bucket.label("bucket"), AuditEvent.outcome.label("outcome"))
                .where(*_pulls_between(since, until))
                .subquery()
            )
            query = (
                select(inner.c.bucket, inner.c.outcome, func.count())
                .group_by(inner.c.bucket, inner.c.outcome)
                .order_by(inner.c.bucket)
            )
            rows = (await session.execute(query)).all()
        return [(int(b), str(outcome), int(count)) for b, outcome, count in rows if outcome is not None]

    async def top_reasons(
        self, since: datetime, until: datetime, outcomes: Sequence[str], limit: int
    ) -> list[ReasonCount]:
        """The deciding (first) reason of refused pulls, by check and rule/requirement/policy."""
        first = AuditEvent.reasons
        source = func.coalesce(
            first[(0, "rule_id")].as_string(),
            first[(0, "detail", "requirement")].as_string(),
            first[(0, "detail", "policy")].as_string(),
            first[(0, "detail", "requirements")].as_string(),
        )
        inner = (
            select(
                func.coalesce(first[(0, "check")].as_string(), literal("none")).label("check"),
                source.label("source"),
                first[(0, "message")].as_string().label("message"),
                AuditEvent.created_at.label("at"),
            )
            .where(*_pulls_between(since, until), AuditEvent.outcome.in_(list(outcomes)))
            .subquery()
        )
        query = (
            select(
                inner.c.check,
                inner.c.source,
                func.count().label("n"),
                func.max(inner.c.message),
                func.max(inner.c.at),
            )
            .group_by(inner.c.check, inner.c.source)
            .order_by(func.count().desc(), inner.c.check, inner.c.source)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            ReasonCount(str(check), source, int(n), str(example or ""), from_db(at))
            for check, source, n, example, at in rows
        ]

    async def top_images(
        self, since: datetime, until: datetime, outcomes: Sequence[str], limit: int
    ) -> list[ImageCount]:
        query = (
            select(
                AuditEvent.upstream,
                AuditEvent.repository,
                AuditEvent.digest,
                func.count(),
                func.max(AuditEvent.created_at),
            )
            .where(*_pulls_between(since, until), AuditEvent.outcome.in_(list(outcomes)))
            .group_by(AuditEvent.upstream, AuditEvent.repository, AuditEvent.digest)
            .order_by(func.count().desc(), AuditEvent.upstream, AuditEvent.repository, AuditEvent.digest)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            ImageCount(str(u or ""), str(r or ""), str(d or ""), int(n), from_db(at))
            for u, r, d, n, at in rows
        ]

    async def scan_summaries(self, digests: Sequence[str]) -> dict[str, ScanSummary]:
        """The newest finished scan of each digest, with its distinct findings per severity."""
        if not digests:
            return {}
        newest = (
            select(func.max(ScanRecord.id))
            .where(ScanRecord.digest.in_(set(digests)), ScanRecord.status == "done")
            .group_by(ScanRecord.digest)
        )
        # A finding is stored once per name it goes by (id and aliases): count positions.
        counts = (
            select(
                ScanFindingRecord.scan_id,
                ScanFindingRecord.severity,
                func.count(func.distinct(ScanFindingRecord.position)),
            )
            .where(ScanFindingRecord.scan_id.in_(newest))
            .group_by(ScanFindingRecord.scan_id, ScanFindingRecord.severity)
        )
        scans = select(
            ScanRecord.id,
            ScanRecord.digest,
            ScanRecord.scanner,
            ScanRecord.db_version,
            ScanRecord.finished_at,
        ).where(ScanRecord.id.in_(newest))
        async with self._sessions() as session:
            found = (await session.execute(scans)).all()
            severities = (await session.execute(counts)).all()
        by_scan: dict[int, dict[int, int]] = {}
        for scan_id, severity, count in severities:
            by_scan.setdefault(int(scan_id), {})[int(severity)] = int(count)
        return {
            digest: ScanSummary(
                digest, scanner, db_version, from_db(at) if at else None, by_scan.get(int(scan_id), {})
            )
            for scan_id, digest, scanner, db_version, at in found
        }


def _pulls_between(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [
        AuditEvent.kind == "pull",
        AuditEvent.created_at >= to_db(since),
        AuditEvent.created_at < to_db(until),
    ]


def _seconds_after(session: AsyncSession, since: datetime) -> ColumnElement[float]:
    """Seconds from `since` to each event's created_at."""
    column = AuditEvent.created_at
    start = to_db(since).timestamp()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps the time as UTC text; julianday() reads it as days since 4714 BC.
        days = func.julianday(column) - literal(_UNIX_EPOCH_JULIAN_DAY, Float)
        return days * literal(86400.0, Float) - literal(start, Float)
    return cast(func.extract("epoch", column), Float) - literal(start, Float)


def _floor(session: AsyncSession, value: ColumnElement[float]) -> ColumnElement[int]:
    if session.get_bind().dialect.name == "sqlite":
        # Values are never negative (created_at >= since), so truncation is the floor.
        return cast(value, Integer)
    return cast(func.floor(value), Integer)
