"""Robot accounts: identities for CI jobs and nodes that pull through pullgate.

A robot's secret (``pgr_`` + 43 characters from `secrets`) is generated here, returned once
and stored only as a scrypt hash (`db.credential_hash`). Robots are found by name, which
is unique for ever (revoked robots keep theirs), so ``robot:<name>`` in the audit log
always means one robot. Revocation is final; a leaked secret is replaced by `rotate`, which
bumps `secret_version` so that tokens issued for the old secret stop working too.

Scope globs are validated by the caller (`proxy.gate.auth.scopes`); the store keeps them as
given.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.auth_models import RobotRecord
from db.credential_hash import SecretHasher
from db.gate_queries import StoreError, from_db, now, to_db

__all__ = ["ROBOT_SECRET_PREFIX", "RobotExists", "RobotRow", "RobotStore"]

ROBOT_SECRET_PREFIX = "pgr_"  # noqa: S105 - names pullgate robot secrets for secret scanners
_TOUCH_INTERVAL = timedelta(minutes=1)  # last_used_at is for people: minute precision is plenty


class RobotExists(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a robot named {name!r} exists (names are never reused, revoked robots included)")
        self.name = name


@dataclass(frozen=True, slots=True)
class RobotRow:
    id: str
    name: str
    description: str
    owner: str
    scopes: tuple[Mapping[str, str], ...]
    secret_version: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


class RobotStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hasher: SecretHasher | None = None,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self._hasher = hasher or SecretHasher()

    async def create(
        self,
        name: str,
        *,
        owner: str,
        scopes: Sequence[Mapping[str, str]],
        description: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[RobotRow, str]:
        """A new robot and its secret (shown once). Raises RobotExists."""
        secret = _new_secret()
        record = RobotRecord(
            id=str(uuid.uuid4()),
            name=name,
            description=description,
            owner=owner,
            scopes=[dict(scope) for scope in scopes],
            secret_hash=await self._hasher.hash(secret),
            secret_version=1,
            created_at=now(),
            expires_at=to_db(expires_at) if expires_at is not None else None,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(record)
        except IntegrityError as exc:
            raise RobotExists(name) from exc
        return _row(record), secret

    async def get(self, name: str) -> RobotRow | None:
        async with self._reads() as session:
            record = await _by_name(session, name)
        return _row(record) if record is not None else None

    async def get_by_id(self, robot_id: str) -> RobotRow | None:
        async with self._reads() as session:
            record = await session.get(RobotRecord, robot_id)
        return _row(record) if record is not None else None

    async def list_robots(self) -> list[RobotRow]:
        """Every robot, revoked ones included, oldest first."""
        query = select(RobotRecord).order_by(RobotRecord.created_at, RobotRecord.id)
        async with self._reads() as session:
            return [_row(record) for record in (await session.scalars(query)).all()]

    async def revoke(self, name: str) -> RobotRow | None:
        """Revoke; None if there is no such robot or it was revoked already."""
        statement = (
            update(RobotRecord)
            .where(RobotRecord.name == name, RobotRecord.revoked_at.is_(None))
            .values(revoked_at=now())
            .returning(RobotRecord)
        )
        async with self._sessions.begin() as session:
            record = (await session.scalars(statement)).one_or_none()
            return _row(record) if record is not None else None

    async def rotate(self, name: str) -> tuple[RobotRow, str] | None:
        """A new secret for an active robot (the old one stops working); None if none."""
        secret = _new_secret()
        secret_hash = await self._hasher.hash(secret)
        statement = (
            update(RobotRecord)
            .where(RobotRecord.name == name, RobotRecord.revoked_at.is_(None))
            .values(secret_hash=secret_hash, secret_version=RobotRecord.secret_version + 1)
            .returning(RobotRecord)
        )
        async with self._sessions.begin() as session:
            record = (await session.scalars(statement)).one_or_none()
            return (_row(record), secret) if record is not None else None

    async def verify(self, name: str, secret: str, *, at: datetime | None = None) -> RobotRow | None:
        """The robot `name` if `secret` is its secret (revoked and expired robots included:
        the caller says why it refuses them), else None. Records the use of a live robot."""
        at = to_db(at or now())
        async with self._reads() as session:
            record = await _by_name(session, name)
        if record is None:
            return None
        # Outside any transaction: SQLite's one write lock must not wait behind a KDF.
        matches, stale = await self._hasher.verify(secret, record.secret_hash)
        if not matches:
            return None
        row = _row(record)
        values: dict[str, object] = {}
        live = row.revoked_at is None and not row.expired(at)
        if live and (row.last_used_at is None or at - row.last_used_at >= _TOUCH_INTERVAL):
            values["last_used_at"] = at
        if stale:
            values["secret_hash"] = await self._hasher.hash(secret)
        if values:
            # Only if the secret is still the one verified: a rotation in between wins.
            statement = update(RobotRecord).where(
                RobotRecord.id == row.id, RobotRecord.secret_version == row.secret_version
            )
            async with self._sessions.begin() as session:
                await session.execute(statement.values(**values))
        return row


def _new_secret() -> str:
    return ROBOT_SECRET_PREFIX + secrets.token_urlsafe(32)


async def _by_name(session: AsyncSession, name: str) -> RobotRecord | None:
    query = select(RobotRecord).where(RobotRecord.name == name)
    return (await session.scalars(query)).one_or_none()


def _row(record: RobotRecord) -> RobotRow:
    return RobotRow(
        id=record.id,
        name=record.name,
        description=record.description,
        owner=record.owner,
        scopes=tuple(dict(scope) for scope in record.scopes),
        secret_version=record.secret_version,
        created_at=from_db(record.created_at),
        expires_at=from_db(record.expires_at) if record.expires_at else None,
        last_used_at=from_db(record.last_used_at) if record.last_used_at else None,
        revoked_at=from_db(record.revoked_at) if record.revoked_at else None,
    )
