"""Read-only queries the admin API needs across the mirror's and the gate's tables.

The mirror's tables say what is cached (repositories, manifests, tags, stored objects); the
gate's say what was decided about it (decisions, quarantine). An admin asks questions that
span both: "what is cached, and may it be pulled?", "where does this digest live, and who
got it?". Nothing here writes, so the store is meant to run over `db.session.read_only`
sessions, which on SQLite never queue behind the write lock.

Image pages walk manifests by their id (keyset), so a page neither skips nor repeats a row
when new manifests are cached while an admin pages through.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Row, ScalarSelect, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from db.gate_queries import from_db, page_size
from db.models import DecisionRecord, ManifestRecord, QuarantineRecord, Repository, StoredObject, TagRecord

__all__ = ["AdminQueries", "CachedImageRow", "LatestDecision", "ObjectTotals", "StoredObjectRow"]


@dataclass(frozen=True, slots=True)
class LatestDecision:
    id: str
    outcome: str
    policy_version: int
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class CachedImageRow:
    """One cached manifest of one repository, with what the gate last said about it."""

    id: int  # the manifest row; the page cursor
    upstream: str
    repository: str
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    fetched_at: datetime
    tags: tuple[str, ...]
    decision: LatestDecision | None
    quarantine_id: int | None
    quarantine_status: str | None


@dataclass(frozen=True, slots=True)
class ObjectTotals:
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StoredObjectRow:
    digest: str
    size: int
    kind: str
    created_at: datetime
    last_access: datetime


class AdminQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def cached_images(
        self,
        *,
        upstream: str | None = None,
        repository: str | None = None,
        digest: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
    ) -> tuple[list[CachedImageRow], bool]:
        """A page of cached manifests in id order after `after_id`; whether more follow.

        `outcome` filters on the newest decision about the image (any policy version).
        """
        latest_id = _latest_decision(DecisionRecord.id)
        conditions: list[ColumnElement[bool]] = []
        for column, value in ((Repository.upstream, upstream), (Repository.name, repository)):
            if value is not None:
                conditions.append(column == value)
        if digest is not None:
            conditions.append(ManifestRecord.digest == digest)
        if outcome is not None:
            conditions.append(_latest_decision(DecisionRecord.outcome) == outcome)
        if after_id is not None:
            conditions.append(ManifestRecord.id > after_id)
        query = (
            select(
                ManifestRecord,
                Repository.upstream.label("upstream"),
                Repository.name.label("repository"),
                latest_id.label("decision_id"),
                QuarantineRecord.id.label("quarantine_id"),
                QuarantineRecord.status.label("quarantine_status"),
            )
            .join(Repository, Repository.id == ManifestRecord.repository_id)
            .outerjoin(QuarantineRecord, _quarantine_of_manifest())
            .where(*conditions)
            .order_by(ManifestRecord.id)
            .limit(page_size(limit) + 1)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
            page = rows[:limit]
            tags = await _tags(
                session, [(row.ManifestRecord.repository_id, row.ManifestRecord.digest) for row in page]
            )
            decisions = await _decisions(
                session, [row.decision_id for row in page if row.decision_id is not None]
            )
        return [_image(row, tags, decisions) for row in page], len(rows) > limit

    async def decision_ids_for_digest(self, digest: str, limit: int) -> list[str]:
        """The newest decisions about a digest, in any repository, newest first."""
        query = (
            select(DecisionRecord.id)
            .where(DecisionRecord.digest == digest)
            .order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
            .limit(page_size(limit))
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def quarantine_ids_for_digest(self, digest: str) -> list[int]:
        """Every quarantine entry of a digest (one per repository it was held in)."""
        query = (
            select(QuarantineRecord.id).where(QuarantineRecord.digest == digest).order_by(QuarantineRecord.id)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def stored_object(self, digest: str) -> StoredObjectRow | None:
        async with self._sessions() as session:
            record = await session.get(StoredObject, digest)
        if record is None:
            return None
        return StoredObjectRow(
            record.digest, record.size, record.kind, from_db(record.created_at), from_db(record.last_access)
        )

    async def object_totals(self) -> dict[str, ObjectTotals]:
        """Objects and bytes in the content store, by kind ("blob", "manifest")."""
        query = select(
            StoredObject.kind, func.count(), func.coalesce(func.sum(StoredObject.size), 0)
        ).group_by(StoredObject.kind)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {kind: ObjectTotals(int(count), int(size)) for kind, count, size in rows}


def _latest_decision(column: InstrumentedAttribute[str]) -> ScalarSelect[str]:
    """`column` of the newest decision about the manifest row of the enclosing query."""
    return (
        select(column)
        .where(
            DecisionRecord.upstream == Repository.upstream,
            DecisionRecord.repository == Repository.name,
            DecisionRecord.digest == ManifestRecord.digest,
        )
        .order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
        .limit(1)
        .correlate(Repository, ManifestRecord)
        .scalar_subquery()
    )


def _quarantine_of_manifest() -> ColumnElement[bool]:
    return and_(
        QuarantineRecord.upstream == Repository.upstream,
        QuarantineRecord.repository == Repository.name,
        QuarantineRecord.digest == ManifestRecord.digest,
    )


async def _tags(
    session: AsyncSession, images: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], tuple[str, ...]]:
    """The tags naming each (repository id, digest), in name order."""
    if not images:
        return {}
    wanted = set(images)
    query = (
        select(TagRecord.repository_id, TagRecord.digest, TagRecord.name)
        .where(
            TagRecord.repository_id.in_({r for r, _ in wanted}),
            TagRecord.digest.in_({d for _, d in wanted}),
        )
        .order_by(TagRecord.name)
    )
    found: defaultdict[tuple[int, str], list[str]] = defaultdict(list)
    for repository_id, digest, name in (await session.execute(query)).all():
        if (repository_id, digest) in wanted:  # the two IN lists also admit cross pairs
            found[(repository_id, digest)].append(name)
    return {key: tuple(names) for key, names in found.items()}


async def _decisions(session: AsyncSession, ids: Sequence[str]) -> dict[str, LatestDecision]:
    if not ids:
        return {}
    query = select(
        DecisionRecord.id, DecisionRecord.outcome, DecisionRecord.policy_version, DecisionRecord.created_at
    ).where(DecisionRecord.id.in_(set(ids)))
    return {
        row.id: LatestDecision(row.id, row.outcome, int(row.policy_version), from_db(row.created_at))
        for row in (await session.execute(query)).all()
    }


# manifest, upstream, repository, decision id, quarantine id, quarantine status; the last
# three are NULL when there is no decision or entry (the outer join and subquery say so, the
# column types do not).
_ImageRow = Row[ManifestRecord, str, str, str, int, str]


def _image(
    row: _ImageRow, tags: dict[tuple[int, str], tuple[str, ...]], decisions: dict[str, LatestDecision]
) -> CachedImageRow:
    record: ManifestRecord = row.ManifestRecord
    return CachedImageRow(
        id=record.id,
        upstream=row.upstream,
        repository=row.repository,
        digest=record.digest,
        media_type=record.media_type,
        size=record.size,
        artifact_type=record.artifact_type,
        subject_digest=record.subject_digest,
        fetched_at=from_db(record.fetched_at),
        tags=tags.get((record.repository_id, record.digest), ()),
        decision=decisions.get(row.decision_id) if row.decision_id is not None else None,
        quarantine_id=row.quarantine_id,
        quarantine_status=row.quarantine_status,
    )
