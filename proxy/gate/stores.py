"""The gate's database stores, built together over one session factory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.audit_queries import AuditStore
from db.credential_hash import SecretHasher
from db.credential_queries import CredentialStore
from db.decision_queries import DecisionStore
from db.policy_queries import PolicyStore
from db.quarantine_queries import QuarantineStore
from db.robot_queries import RobotStore
from db.scan_queries import ScanStore
from db.signing_queries import SigningStore
from db.token_queries import TokenStore
from proxy.policy.document import PolicySections

__all__ = ["Stores"]


@dataclass(frozen=True)
class Stores:
    policies: PolicyStore
    decisions: DecisionStore
    quarantine: QuarantineStore
    audit: AuditStore
    tokens: TokenStore
    signing: SigningStore
    scans: ScanStore
    credentials: CredentialStore
    robots: RobotStore

    @classmethod
    def over(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
        hasher: SecretHasher | None = None,
    ) -> Stores:
        # One hasher for every store: its concurrency limit is shared by all slow hashes.
        hasher = hasher or SecretHasher()
        return cls(
            policies=PolicyStore(sessions, reads),
            decisions=DecisionStore(sessions),
            quarantine=QuarantineStore(sessions),
            audit=AuditStore(sessions),
            tokens=TokenStore(sessions, hasher, reads),
            signing=SigningStore(sessions, reads),
            scans=ScanStore(sessions, reads),
            credentials=CredentialStore(sessions, reads),
            robots=RobotStore(sessions, hasher, reads),
        )

    async def policy_sections(self) -> PolicySections:
        """The policy's sections besides the rules, as stored (for exports)."""
        return PolicySections(
            requirements=await self.signing.requirements(),
            vulnerability_policies=await self.scans.vulnerability_policies(),
            vulnerability_exceptions=await self.scans.vulnerability_exceptions(),
        )
