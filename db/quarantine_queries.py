"""The quarantine queue: images held for review, and what reviewers decided.

An image is (upstream, repository, digest). A quarantine entry moves

    pending --release--> released --reject--> rejected
    pending --reject---> rejected

and nowhere else: a rejection is final, and a release can only be taken back by rejecting.
A release may carry an expiry; once it passes, the release no longer counts and the next
`hold` of the image puts it back in the queue as pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import StoreError, from_db, now, page_size, to_db
from db.models import QuarantineRecord
from db.upsert import insert_ignore

__all__ = ["InvalidTransition", "QuarantineNotFound", "QuarantineRow", "QuarantineStatus", "QuarantineStore"]


class QuarantineStatus(StrEnum):
    PENDING = "pending"
    RELEASED = "released"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    upstream: str
    repository: str
    digest: str
    reference: str | None
    decision_id: str  # the decision that held the image
    rule_ids: tuple[str, ...]
    status: QuarantineStatus
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    expires_at: datetime | None  # when a release stops counting

    def in_force(self, at: datetime) -> bool:
        """False only for a release whose expiry has passed."""
        return not (self.status is QuarantineStatus.RELEASED and _expired(self.expires_at, at))


class QuarantineNotFound(StoreError, LookupError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"no quarantine entry {entry_id}")
        self.entry_id = entry_id


class InvalidTransition(StoreError):
    def __init__(self, entry_id: int, status: QuarantineStatus, wanted: QuarantineStatus) -> None:
        super().__init__(f"quarantine entry {entry_id} is {status}; it cannot become {wanted}")
        self.entry_id = entry_id
        self.status = status
        self.wanted = wanted


class QuarantineStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def hold(
        self,
        upstream: str,
        repository: str,
        digest: str,
        *,
        reference: str | None,
        decision_id: str,
        rule_ids: Sequence[str],
        at: datetime | None = None,
    ) -> QuarantineRow:
        """Queue the image for review unless it is queued or reviewed already; its entry.

        A pending entry, a release in force and a rejection are left as they are; a release
        that has expired goes back to pending, held by this decision.
        """
        at = to_db(at or now())
        held = {"reference": reference, "decision_id": decision_id, "rule_ids": list(rule_ids)}
        values = {"upstream": upstream, "repository": repository, "digest": digest, **held}
        async with self._sessions.begin() as session:
            insert = insert_ignore(
                session,
                QuarantineRecord,
                {**values, "status": QuarantineStatus.PENDING.value, "created_at": at},
                ["upstream", "repository", "digest"],
            )
            await session.execute(insert)
            requeue = (
                update(QuarantineRecord)
                .where(
                    *_image(upstream, repository, digest),
                    QuarantineRecord.status == QuarantineStatus.RELEASED.value,
                    QuarantineRecord.expires_at <= at,
                )
                .values(status=QuarantineStatus.PENDING.value, created_at=at, **held, **_NO_REVIEW)
            )
            await session.execute(requeue)
            record = (
                await session.scalars(select(QuarantineRecord).where(*_image(upstream, repository, digest)))
            ).one()
            return _entry(record)

    async def get_quarantine(self, upstream: str, repository: str, digest: str) -> QuarantineRow | None:
        query = select(QuarantineRecord).where(*_image(upstream, repository, digest))
        async with self._sessions() as session:
            record = (await session.scalars(query)).one_or_none()
        return _entry(record) if record is not None else None

    async def get_quarantine_by_id(self, entry_id: int) -> QuarantineRow | None:
        async with self._sessions() as session:
            record = await session.get(QuarantineRecord, entry_id)
        return _entry(record) if record is not None else None

    async def review_state(
        self, upstream: str, repository: str, digest: str, at: datetime
    ) -> QuarantineRow | None:
        """The review in force at `at`: None if never held or if its release has expired.

        A RELEASED entry from here is an exception that holds at `at`; REJECTED denies.
        """
        entry = await self.get_quarantine(upstream, repository, digest)
        return entry if entry is not None and entry.in_force(to_db(at)) else None

    async def list_quarantine(
        self, status: QuarantineStatus | None, limit: int, cursor: int | None = None
    ) -> tuple[list[QuarantineRow], int | None]:
        """A page of entries, oldest first; the cursor of the next page, None after the last.

        `cursor` is the id of the last entry of the previous page.
        """
        query = select(QuarantineRecord).order_by(QuarantineRecord.id).limit(page_size(limit) + 1)
        if status is not None:
            query = query.where(QuarantineRecord.status == QuarantineStatus(status).value)
        if cursor is not None:
            query = query.where(QuarantineRecord.id > cursor)
        async with self._sessions() as session:
            records = (await session.scalars(query)).all()
        page = [_entry(record) for record in records[:limit]]
        return page, (page[-1].id if len(records) > limit else None)

    async def release(
        self, entry_id: int, by: str, reason: str, expires_at: datetime | None = None
    ) -> QuarantineRow:
        """Let a pending image through, until `expires_at` if given.

        Raises QuarantineNotFound, or InvalidTransition unless the entry is pending.
        """
        values = {"expires_at": to_db(expires_at) if expires_at else None}
        return await self._review(entry_id, QuarantineStatus.RELEASED, by, reason, values)

    async def reject(self, entry_id: int, by: str, reason: str) -> QuarantineRow:
        """Deny the image for good; a pending or released entry may be rejected."""
        return await self._review(entry_id, QuarantineStatus.REJECTED, by, reason, {"expires_at": None})

    async def _review(
        self, entry_id: int, to: QuarantineStatus, by: str, reason: str, values: Mapping[str, Any]
    ) -> QuarantineRow:
        async with self._sessions.begin() as session:
            record = await session.get(QuarantineRecord, entry_id, with_for_update=True)
            if record is None:
                raise QuarantineNotFound(entry_id)
            status = QuarantineStatus(record.status)
            if status not in _TRANSITIONS[to]:
                raise InvalidTransition(entry_id, status, to)
            record.status = to.value
            record.reviewed_by, record.reviewed_at, record.review_reason = by, now(), reason
            for name, value in values.items():
                setattr(record, name, value)
            return _entry(record)


# The states each status may be reached from.
_TRANSITIONS = {
    QuarantineStatus.RELEASED: frozenset({QuarantineStatus.PENDING}),
    QuarantineStatus.REJECTED: frozenset({QuarantineStatus.PENDING, QuarantineStatus.RELEASED}),
}

_NO_REVIEW = {"reviewed_by": None, "reviewed_at": None, "review_reason": None, "expires_at": None}


def _image(upstream: str, repository: str, digest: str) -> tuple[ColumnElement[bool], ...]:
    return (
        QuarantineRecord.upstream == upstream,
        QuarantineRecord.repository == repository,
        QuarantineRecord.digest == digest,
    )


def _expired(expires_at: datetime | None, at: datetime) -> bool:
    return expires_at is not None and expires_at <= at


def _entry(record: QuarantineRecord) -> QuarantineRow:
    return QuarantineRow(
        id=record.id,
        upstream=record.upstream,
        repository=record.repository,
        digest=record.digest,
        reference=record.reference,
        decision_id=record.decision_id,
        rule_ids=tuple(record.rule_ids),
        status=QuarantineStatus(record.status),
        created_at=from_db(record.created_at),
        reviewed_by=record.reviewed_by,
        reviewed_at=from_db(record.reviewed_at) if record.reviewed_at else None,
        review_reason=record.review_reason,
        expires_at=from_db(record.expires_at) if record.expires_at else None,
    )
