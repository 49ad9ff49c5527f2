"""Tables of pull-side authentication: robot accounts and the key pull tokens are signed with.

Same metadata as `db.models` (imported by migrations).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

__all__ = ["PullTokenKeyRecord", "RobotRecord"]


class RobotRecord(Base):
    """An identity for a CI job or a node: what it may pull, and a hash of its secret."""

    __tablename__ = "robots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Unique for ever, revoked robots included: the audit log names robots by name.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    owner: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{registry, repository}] globs
    secret_hash: Mapped[str] = mapped_column(String(255))
    # Bumped by every rotation: tokens and cached verifications of an older secret stop working.
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PullTokenKeyRecord(Base):
    """The HMAC key every replica signs and verifies pull tokens with (one row, id 1)."""

    __tablename__ = "pull_token_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kid: Mapped[str] = mapped_column(String(32))
    secret: Mapped[str] = mapped_column(String(128))  # base64url of 32 random bytes
    created_at: Mapped[datetime]
