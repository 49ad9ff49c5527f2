"""Stored upstream credentials: sealed bytes and key ids in, the same out; no crypto here.

Sealing and opening is `proxy.secrets`' business, done before a write and after a read;
this store only keeps rows. `reseal` is the one exception to "no logic": a key rotation
must replace every row in one transaction, so it takes the sealing step as a function and
calls it on each row, locked, inside that transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, now
from db.secret_models import UpstreamCredentialRecord

__all__ = ["CredentialStore", "Resealed", "StoredCredential"]


@dataclass(frozen=True, slots=True)
class StoredCredential:
    upstream: str
    username: str
    key_id: str
    sealed: bytes = field(repr=False)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Resealed:
    resealed: list[str]  # upstreams whose secret was sealed again
    current: list[str]  # already sealed as wanted: left alone


# (key id, sealed bytes) to store instead, or None to leave the row as it is.
Reseal = Callable[[StoredCredential], tuple[str, bytes] | None]


class CredentialStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions

    async def all(self) -> list[StoredCredential]:
        """Every stored credential, by upstream. Small (one row per upstream): replicas poll it."""
        query = select(UpstreamCredentialRecord).order_by(UpstreamCredentialRecord.upstream)
        async with self._reads() as session:
            return [_stored(r) for r in (await session.scalars(query)).all()]

    async def get(self, upstream: str) -> StoredCredential | None:
        async with self._sessions() as session:
            record = await session.get(UpstreamCredentialRecord, upstream)
        return _stored(record) if record is not None else None

    async def put(
        self, upstream: str, username: str, key_id: str, sealed: bytes
    ) -> tuple[StoredCredential, StoredCredential | None]:
        """Create or replace: (stored, what it replaced)."""
        at = now()
        async with self._sessions.begin() as session:
            record = await session.get(UpstreamCredentialRecord, upstream, with_for_update=True)
            before = _stored(record) if record is not None else None
            if record is None:
                record = UpstreamCredentialRecord(upstream=upstream, created_at=at)
                session.add(record)
            record.username, record.key_id, record.sealed, record.updated_at = username, key_id, sealed, at
            return _stored(record), before

    async def delete(self, upstream: str) -> StoredCredential | None:
        """Remove; what was removed, or None when nothing was stored."""
        async with self._sessions.begin() as session:
            record = await session.get(UpstreamCredentialRecord, upstream, with_for_update=True)
            if record is None:
                return None
            removed = _stored(record)
            await session.delete(record)
            return removed

    async def reseal(self, reseal: Reseal) -> Resealed:
        """Apply `reseal` to every row in one transaction; if it raises, nothing changes."""
        resealed: list[str] = []
        current: list[str] = []
        query = select(UpstreamCredentialRecord).order_by(UpstreamCredentialRecord.upstream).with_for_update()
        async with self._sessions.begin() as session:
            for record in (await session.scalars(query)).all():
                replacement = reseal(_stored(record))
                if replacement is None:
                    current.append(record.upstream)
                    continue
                # updated_at says when the credentials were set; a rotation does not change them.
                record.key_id, record.sealed = replacement
                resealed.append(record.upstream)
        return Resealed(resealed, current)


def _stored(record: UpstreamCredentialRecord) -> StoredCredential:
    return StoredCredential(
        record.upstream,
        record.username,
        record.key_id,
        record.sealed,
        from_db(record.created_at),
        from_db(record.updated_at),
    )
