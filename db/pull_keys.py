"""The key pull tokens are signed with, shared by every replica through the database.

One row (id 1), made by whichever replica needs it first: replicas starting together may
both try to insert it; the primary key lets one win and the other reads the winner's, so
all of them sign and verify with the same key. Rotating it (delete the row, restart every
replica) invalidates every token issued so far, which clients answer by fetching new ones.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.auth_models import PullTokenKeyRecord
from db.gate_queries import now

__all__ = ["SigningKey", "SigningKeyStore", "key_from_bytes"]

_ROW = 1


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str  # names the key in each token's header
    secret: bytes

    def __repr__(self) -> str:  # never print the key
        return f"SigningKey(kid={self.kid!r})"


def key_from_bytes(secret: bytes) -> SigningKey:
    """A key from configured bytes; its id is derived, so every replica names it alike."""
    return SigningKey(hashlib.sha256(b"pullgate-pull-token-kid\0" + secret).hexdigest()[:16], secret)


class SigningKeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def current(self) -> SigningKey:
        """The stored key, created on first use."""
        found = await self._load()
        if found is not None:
            return found
        secret = secrets.token_bytes(32)
        record = PullTokenKeyRecord(id=_ROW, kid=secrets.token_hex(8), secret=_b64(secret), created_at=now())
        try:
            async with self._sessions.begin() as session:
                session.add(record)
        except IntegrityError:
            pass  # another replica made it first: use theirs
        found = await self._load()
        assert found is not None, "the signing key row vanished right after it was written"
        return found

    async def _load(self) -> SigningKey | None:
        async with self._sessions() as session:
            record = await session.get(PullTokenKeyRecord, _ROW)
        if record is None:
            return None
        return SigningKey(
            record.kid, base64.urlsafe_b64decode(record.secret + "=" * (-len(record.secret) % 4))
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
