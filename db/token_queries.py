"""Admin API bearer tokens: shown once, stored as a slow salted hash, found by the id they carry.

A token is ``pgt_<id, 32 hex digits>_<43 characters from secrets>``. The id says which
row's scrypt hash to check, so the slow hash runs once per presented token rather than
once per stored token, and a token that names no row costs no hash at all (ids are not
secret: they are listed, audited and shown by `pullgate token list`).

Legacy tokens (``pgt_`` + 43 characters, made before revision 0008) have only a SHA-256
stored in `token_hash`; they are still found through that unique index, and are reported as
`legacy` so that operators rotate them. Anything that is neither form is hashed and looked
up the legacy way too, so it is refused exactly like a wrong legacy token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.credential_hash import SecretHasher
from db.gate_queries import from_db, now, to_db
from db.models import ApiToken

__all__ = ["TOKEN_PREFIX", "TokenInfo", "TokenRole", "TokenStore", "token_id_of"]

TOKEN_PREFIX = "pgt_"  # noqa: S105 - names pullgate tokens so secret scanners can spot them
_CURRENT = re.compile(r"pgt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})")

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
    expires_at: datetime | None = None
    legacy: bool = False  # made before 0008: SHA-256 only, to be rotated

    def expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


def token_id_of(plaintext: str) -> str | None:
    """The id a current-format token names (None for a legacy token or anything else)."""
    match = _CURRENT.fullmatch(plaintext)
    return str(uuid.UUID(hex=match.group(1))) if match else None


class TokenStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hasher: SecretHasher | None = None,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self._hasher = hasher or SecretHasher()

    async def create_token(
        self, name: str, role: TokenRole | str, *, expires_at: datetime | None = None
    ) -> tuple[str, str]:
        """A new token: (id, plaintext). The plaintext cannot be recovered later."""
        role = TokenRole(role)  # ValueError for an unknown role, before anything is written
        token_uuid = uuid.uuid4()
        plaintext = f"{TOKEN_PREFIX}{token_uuid.hex}_{secrets.token_urlsafe(32)}"
        record = ApiToken(
            id=str(token_uuid),
            name=name,
            role=role.value,
            secret_hash=await self._hasher.hash(plaintext),
            created_at=now(),
            expires_at=to_db(expires_at) if expires_at is not None else None,
        )
        async with self._sessions.begin() as session:
            session.add(record)
        return record.id, plaintext

    async def authenticate(self, plaintext: str, *, at: datetime | None = None) -> TokenInfo | None:
        """The unrevoked token `plaintext` is, or None. An expired token is returned (the caller
        says "expired"), but its use is not recorded."""
        at = to_db(at or now())
        found = await self._find(plaintext)
        if found is None:
            return None
        record, rehash = found
        info = _info(record)
        if record.revoked_at is not None:
            return None
        if info.expired(at):
            return info
        touch = record.last_used_at is None or at - from_db(record.last_used_at) >= _TOUCH_INTERVAL
        if touch or rehash is not None:
            values: dict[str, object] = {"last_used_at": at} if touch else {}
            if rehash is not None:
                values["secret_hash"] = rehash
            async with self._sessions.begin() as session:
                await session.execute(update(ApiToken).where(ApiToken.id == record.id).values(**values))
            if touch:
                info = replace(info, last_used_at=at)
        return info

    async def _find(self, plaintext: str) -> tuple[ApiToken, str | None] | None:
        """The token's row and, when its hash is weaker than today's, a new hash for it.

        The slow hash runs outside any transaction: on SQLite a write transaction holds the
        one write lock, and nothing should wait for it behind a KDF.
        """
        token_id = token_id_of(plaintext)
        async with self._reads() as session:
            if token_id is None:
                query = select(ApiToken).where(ApiToken.token_hash == _legacy_hash(plaintext))
                record = (await session.scalars(query)).one_or_none()
                return (record, None) if record is not None else None
            record = await session.get(ApiToken, token_id)
        if record is None or record.secret_hash is None:
            return None
        matches, stale = await self._hasher.verify(plaintext, record.secret_hash)
        if not matches:
            return None
        return record, (await self._hasher.hash(plaintext) if stale else None)

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


def _legacy_hash(plaintext: str) -> str:
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
        expires_at=from_db(record.expires_at) if record.expires_at else None,
        legacy=record.secret_hash is None,
    )
