"""Signature requirements and trust material, changed under the policy lock like rules.

Every write locks the `policy_state` row first and bumps the policy version in the same
transaction (see `db.policy_queries`), so a new key or trusted root is seen by every replica
at its next version check, and decisions made with the old material are re-made. A write
that changes nothing bumps nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import StoreError, from_db, now
from db.models import SignatureRequirementRecord, TrustMaterialRecord
from db.policy_lock import bump_policy, lock_policy
from db.policy_sections import merge_section
from proxy.policy.signing import SignatureRequirement
from proxy.policy.signing_document import RequirementSpec

__all__ = ["MaterialNotFound", "SigningStore", "StoredMaterial", "merge_requirements"]


@dataclass(frozen=True, slots=True)
class StoredMaterial:
    name: str
    kind: str
    content: str
    sha256: str
    created_at: datetime
    updated_at: datetime


class MaterialNotFound(StoreError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no trust material {name!r}")
        self.name = name


class SigningStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions

    # -- requirements (written with the policy document, see PolicyStore.replace_all) --------
    async def requirements(self) -> list[SignatureRequirement]:
        query = select(SignatureRequirementRecord).order_by(SignatureRequirementRecord.position)
        async with self._reads() as session:
            records = (await session.scalars(query)).all()
        return [RequirementSpec.model_validate(r.spec).to_requirement() for r in records]

    # -- trust material -------------------------------------------------------------------
    async def materials(self) -> list[StoredMaterial]:
        query = select(TrustMaterialRecord).order_by(TrustMaterialRecord.name)
        async with self._reads() as session:
            return [_stored(r) for r in (await session.scalars(query)).all()]

    async def material(self, name: str) -> StoredMaterial | None:
        async with self._sessions() as session:
            record = await session.get(TrustMaterialRecord, name)
        return _stored(record) if record is not None else None

    async def put_material(self, name: str, kind: str, content: str) -> tuple[StoredMaterial, bool, int]:
        """Create or replace; (stored, changed, policy version). Validation is the caller's."""
        digest = hashlib.sha256(content.encode()).hexdigest()
        at = now()
        async with self._sessions.begin() as session:
            version, _ = await lock_policy(session)
            record = await session.get(TrustMaterialRecord, name)
            if record is not None and record.kind == kind and record.sha256 == digest:
                return _stored(record), False, version
            if record is None:
                record = TrustMaterialRecord(name=name, created_at=at)
                session.add(record)
            record.kind, record.content, record.sha256, record.updated_at = kind, content, digest, at
            version = await bump_policy(session, at)
            return _stored(record), True, version

    async def delete_material(self, name: str) -> int:
        async with self._sessions.begin() as session:
            await lock_policy(session)
            record = await session.get(TrustMaterialRecord, name)
            if record is None:
                raise MaterialNotFound(name)
            await session.delete(record)
            return await bump_policy(session, now())


async def merge_requirements(
    session: AsyncSession, wanted: Sequence[SignatureRequirement], at: datetime
) -> bool:
    """Make the stored requirements exactly `wanted` (in order); True if anything changed."""
    specs = [(r.id, _spec(r)) for r in wanted]
    return await merge_section(session, SignatureRequirementRecord, specs, at)


def _spec(requirement: SignatureRequirement) -> dict[str, Any]:
    return RequirementSpec.from_requirement(requirement).model_dump(mode="json", exclude_none=True)


def _stored(record: TrustMaterialRecord) -> StoredMaterial:
    return StoredMaterial(
        record.name,
        record.kind,
        record.content,
        record.sha256,
        from_db(record.created_at),
        from_db(record.updated_at),
    )
