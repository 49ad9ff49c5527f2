"""Decisions: look one up by the id a denial quoted, or ask what the gate would decide now.

A dry run takes the same path as a pull up to the verdict — the mirror resolves the tag
(fetching the manifest if it is not cached: what an image is cannot be known otherwise) and
the gate's own pipeline judges it — and stops there: no decision is recorded, nothing is
audited as a pull, nothing is quarantined, and the gate's decision cache is left alone.
So a dry run agrees with the next pull, and leaves no trace a reviewer must clean up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from db.decision_queries import DecisionRow, DecisionStore
from db.gate_queries import now
from proxy.cache.keys import RepoKey
from proxy.gate.manage.errors import not_found
from proxy.gate.service import Gate
from proxy.oci.digest import Digest
from proxy.oci.reference import Tag
from proxy.policy.model import Outcome, Reason, Verdict

__all__ = ["DecisionsAdmin", "DryRun"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DryRun:
    upstream: str
    repository: str
    tag: str | None
    digest: str
    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy_version: int

    @property
    def rule_ids(self) -> list[str]:
        return [reason.rule_id for reason in self.reasons if reason.rule_id is not None]

    @property
    def image(self) -> str:
        return f"{self.upstream}/{self.repository}@{self.digest}"


class DecisionsAdmin:
    def __init__(self, gate: Gate, decisions: DecisionStore) -> None:
        self._gate = gate
        self._decisions = decisions

    async def get(self, decision_id: str) -> DecisionRow:
        decision = await self._decisions.get_decision(decision_id)
        if decision is None:
            raise not_found(f"decision {decision_id!r}")
        return decision

    async def dry_run(self, key: RepoKey, reference: Tag | Digest) -> DryRun:
        """What the gate would decide for `reference` now (raises RegistryError if unknown upstream)."""
        served = await self._gate.mirror.manifest(key, reference)
        manifest = await self._gate.mirror.cached_manifest(key, served.digest)
        tag = str(reference) if isinstance(reference, Tag) else None
        snapshot = await self._gate.policy.current()
        try:
            # The gate's own verdict step (review state, rules, later checks), not a copy of it:
            # a copy would drift the day signatures or scans join the pipeline.
            verdict = await self._gate.verdict(key, manifest, tag, snapshot, now())
        except Exception as exc:  # the gate denies when it cannot decide; say the same
            log.exception("dry run of %s@%s failed; a pull would be denied", key, served.digest)
            reason = Reason("gate", f"the gate could not decide ({type(exc).__name__}); denied to be safe")
            verdict = Verdict(Outcome.DENY, (reason,))
        return DryRun(
            upstream=key.upstream,
            repository=str(key.name),
            tag=tag,
            digest=str(served.digest),
            outcome=verdict.outcome,
            reasons=verdict.reasons,
            policy_version=snapshot.version,
        )
