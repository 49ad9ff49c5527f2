"""What the gate writes down: the decision row and the audit record of a pull."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from db.audit_queries import NewAuditEvent
from db.decision_queries import DecisionRow
from proxy.cache.keys import RepoKey
from proxy.gate.decision import Decision
from proxy.oci.digest import Digest

__all__ = ["ClientInfo", "audit_record", "decision_row", "image_name", "now"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    address: str | None = None
    user_agent: str | None = None
    identity: str | None = None


def now() -> datetime:
    return datetime.now(UTC)


def image_name(key: RepoKey, digest: Digest | None, tag: str | None = None) -> str:
    """How a person names the image: upstream/repository@digest (or :tag before it is known)."""
    return f"{key}@{digest}" if digest is not None else f"{key}:{tag}"


def decision_row(decision: Decision, key: RepoKey, digest: Digest, tag: str | None) -> DecisionRow:
    return DecisionRow(
        id=decision.id,
        upstream=key.upstream,
        repository=str(key.name),
        digest=str(digest),
        reference=tag,
        outcome=decision.outcome,
        reasons=decision.reasons,
        policy_version=decision.policy_version,
        created_at=decision.decided_at,
    )


def audit_record(
    key: RepoKey, digest: Digest | None, tag: str | None, decision: Decision, client: ClientInfo
) -> NewAuditEvent:
    return NewAuditEvent(
        created_at=now(),
        kind="pull",
        client_address=client.address,
        user_agent=client.user_agent,
        identity=client.identity,
        upstream=key.upstream,
        repository=str(key.name),
        reference=tag,
        digest=None if digest is None else str(digest),
        decision_id=decision.id,
        outcome=decision.outcome.value,
        reasons=decision.reasons_as_dicts(),
        rule_ids=decision.rule_ids,
        policy_version=decision.policy_version,
    )
