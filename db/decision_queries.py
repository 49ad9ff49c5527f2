"""What the gate decided about each image, under which policy version, and why.

A decision is recorded once, with the id a denial quotes, so that an admin can look it up
later; the gate may also find the newest decision on an image under the policy in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, to_db
from db.models import DecisionRecord
from proxy.policy.model import Outcome, Reason

__all__ = ["DecisionRow", "DecisionStore"]


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: str
    upstream: str
    repository: str
    digest: str
    reference: str | None  # the tag asked for, if any
    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy_version: int
    created_at: datetime

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(reason.rule_id for reason in self.reasons if reason.rule_id is not None)


class DecisionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_decision(self, decision: DecisionRow) -> None:
        record = DecisionRecord(
            id=decision.id,
            upstream=decision.upstream,
            repository=decision.repository,
            digest=decision.digest,
            reference=decision.reference,
            outcome=Outcome(decision.outcome).value,
            reasons=[reason.as_dict() for reason in decision.reasons],
            rule_ids=list(decision.rule_ids),
            policy_version=decision.policy_version,
            created_at=to_db(decision.created_at),
        )
        async with self._sessions.begin() as session:
            session.add(record)

    async def get_decision(self, decision_id: str) -> DecisionRow | None:
        async with self._sessions() as session:
            record = await session.get(DecisionRecord, decision_id)
        return _decision(record) if record is not None else None

    async def latest_decision(
        self, upstream: str, repository: str, digest: str, policy_version: int
    ) -> DecisionRow | None:
        """The newest decision on the image under this policy version, if any."""
        query = (
            select(DecisionRecord)
            .where(
                DecisionRecord.upstream == upstream,
                DecisionRecord.repository == repository,
                DecisionRecord.digest == digest,
                DecisionRecord.policy_version == policy_version,
            )
            .order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            record = (await session.scalars(query)).one_or_none()
        return _decision(record) if record is not None else None

    async def latest_per_repository(self, digest: str, limit: int = 1000) -> list[DecisionRow]:
        """The newest decision on `digest` in each (upstream, repository) that decided it."""
        newest = (
            select(
                DecisionRecord.upstream,
                DecisionRecord.repository,
                func.max(DecisionRecord.created_at).label("created_at"),
            )
            .where(DecisionRecord.digest == digest)
            .group_by(DecisionRecord.upstream, DecisionRecord.repository)
            .subquery()
        )
        query = (
            select(DecisionRecord)
            .join(
                newest,
                (newest.c.upstream == DecisionRecord.upstream)
                & (newest.c.repository == DecisionRecord.repository)
                & (newest.c.created_at == DecisionRecord.created_at),
            )
            .where(DecisionRecord.digest == digest)
            .order_by(DecisionRecord.upstream, DecisionRecord.repository, DecisionRecord.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            records = (await session.scalars(query)).all()
        unique: dict[tuple[str, str], DecisionRow] = {}
        for record in records:  # two decisions in the same instant: keep one
            unique.setdefault((record.upstream, record.repository), _decision(record))
        return list(unique.values())


def _decision(record: DecisionRecord) -> DecisionRow:
    return DecisionRow(
        id=record.id,
        upstream=record.upstream,
        repository=record.repository,
        digest=record.digest,
        reference=record.reference,
        outcome=Outcome(record.outcome),
        reasons=tuple(_reason(entry) for entry in record.reasons),
        policy_version=record.policy_version,
        created_at=from_db(record.created_at),
    )


def _reason(entry: Mapping[str, Any]) -> Reason:
    return Reason(
        check=str(entry["check"]),
        message=str(entry["message"]),
        rule_id=entry.get("rule_id"),
        detail=dict(entry.get("detail") or {}),
    )
