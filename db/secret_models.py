"""Secrets at rest: upstream credentials, sealed. Same metadata as `db.models` (imported by migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

__all__ = ["UpstreamCredentialRecord"]


class UpstreamCredentialRecord(Base):
    """One upstream's username and its password sealed with AES-256-GCM (`proxy.secrets`).

    The password is never stored in clear: `sealed` is the envelope (version, nonce,
    ciphertext, tag) and `key_id` names the key of the ring that sealed it. Both the
    upstream and the username are bound into the envelope, so neither can be edited here
    without the password becoming unusable.
    """

    __tablename__ = "upstream_credentials"

    upstream: Mapped[str] = mapped_column(String(255), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
