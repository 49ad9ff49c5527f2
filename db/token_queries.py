"""Admin API bearer tokens. Only a token's SHA-256 is stored; the plaintext is shown once.

A token carries 256 bits from `secrets`, so a fast unsalted hash is enough: nothing about
it can be guessed or looked up in a table, and the hash is what the unique index finds.
Every presented string is hashed and looked up the same way, well-formed or not, so the
time an answer takes says nothing about how close a guess came.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import from_db, now, to_db
from db.models import ApiToken

__all__ = ["TOKEN_PREFIX", "TokenInfo", "TokenRole", "TokenStore"]

TOKEN_PREFIX = "pgt_"  # noqa: S105 - names pullgate tokens so secret scanners can spot them

# last_used_at is for people ("is this token still in use?"): minute precision is plenty,
# and it spares a write on every API call.
_TOUCH_INTERVAL = timedelta(minutes=1)


class TokenRole(StrEnum):
    ADMIN = "admin"  # may change policy and review quarantine
    AUDITOR = "auditor"  # may read everything, change nothing


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    role: TokenRole
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_token(self, name: str, role: TokenRole | str) -> tuple[str, str]:
        """A new token: (id, plaintext). The plaintext cannot be recovered later."""
        role = TokenRole(role)  # ValueError for an unknown role, before anything is written
        token_id, plaintext = str(uuid.uuid4()), TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(
            id=token_id, name=name, role=role.value, token_hash=_hash(plaintext), created_at=now()
        )
        async with self._sessions.begin() as session:
            session.add(record)
        return token_id, plaintext

    async def authenticate(self, plaintext: str, *, at: datetime | None = None) -> TokenInfo | None:
        """The live token `plaintext` is, or None (unknown or revoked)."""
        at = to_db(at or now())
        query = select(ApiToken).where(ApiToken.token_hash == _hash(plaintext), ApiToken.revoked_at.is_(None))
        async with self._sessions.begin() as session:
            record = (await session.scalars(query)).one_or_none()
            if record is None:
                return None
            if record.last_used_at is None or at - from_db(record.last_used_at) >= _TOUCH_INTERVAL:
                record.last_used_at = at
            return _info(record)

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones included, oldest first."""
        query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
        async with self._sessions() as session:
            records = (await session.scalars(query)).all()
        return [_info(record) for record in records]

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token; False if there is no such token or it was revoked already."""
        statement = (
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now())
            .returning(ApiToken.id)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(statement)).scalar_one_or_none() is not None


def _hash(plaintext: str) -> str:
    # surrogatepass: any str a header can decode to hashes (to no stored token) without raising.
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def _info(record: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=record.id,
        name=record.name,
        role=TokenRole(record.role),
        created_at=from_db(record.created_at),
        last_used_at=from_db(record.last_used_at) if record.last_used_at else None,
        revoked_at=from_db(record.revoked_at) if record.revoked_at else None,
    )
