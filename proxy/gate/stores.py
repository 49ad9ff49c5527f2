"""The gate's database stores, built together over one session factory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.audit_queries import AuditStore
from db.decision_queries import DecisionStore
from db.policy_queries import PolicyStore
from db.quarantine_queries import QuarantineStore
from db.signing_queries import SigningStore
from db.token_queries import TokenStore

__all__ = ["Stores"]


@dataclass(frozen=True)
class Stores:
    policies: PolicyStore
    decisions: DecisionStore
    quarantine: QuarantineStore
    audit: AuditStore
    tokens: TokenStore
    signing: SigningStore

    @classmethod
    def over(
        cls, sessions: async_sessionmaker[AsyncSession], reads: async_sessionmaker[AsyncSession] | None = None
    ) -> Stores:
        return cls(
            policies=PolicyStore(sessions, reads),
            decisions=DecisionStore(sessions),
            quarantine=QuarantineStore(sessions),
            audit=AuditStore(sessions),
            tokens=TokenStore(sessions),
            signing=SigningStore(sessions, reads),
        )
