"""When a rescan changes what is known about an image, decide it again everywhere it was
pulled, and record and announce every verdict that changed.

"Everywhere" is each repository with a decision on the digest: the newest decision there is
compared with a new one made now (the gate's own `decide`, so the new decision is recorded
and cached as any other). A change is written to the audit log (kind ``rescan``) and sent to
the webhooks with the clients that pulled the image, from the audit log.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from db.audit_queries import AuditStore, NewAuditEvent
from db.decision_queries import DecisionStore
from proxy.cache.keys import RepoKey
from proxy.gate.decision import Decision
from proxy.gate.scans.webhooks import WebhookNotifier
from proxy.gate.service import Gate
from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from proxy.scanning.model import ScanReport

__all__ = ["VerdictWatch"]

log = logging.getLogger(__name__)
PULLERS_LISTED = 100


class VerdictWatch:
    def __init__(
        self, gate: Gate, decisions: DecisionStore, audit: AuditStore, webhooks: WebhookNotifier
    ) -> None:
        self._gate = gate
        self._decisions = decisions
        self._audit = audit
        self._webhooks = webhooks

    async def __call__(self, digest: str, before: ScanReport | None, after: ScanReport) -> None:
        parsed = Digest.parse(digest)
        self._gate.forget(parsed)
        for previous in await self._decisions.latest_per_repository(digest):
            key = RepoKey(previous.upstream, RepositoryName.parse(previous.repository))
            try:
                manifest = await self._gate.mirror.cached_manifest(key, parsed)
            except Exception as exc:  # evicted and gone upstream: nothing left to serve anyway
                log.info("re-deciding %s@%s after a rescan: %s", key, digest, exc)
                continue
            decision = await self._gate.decide(key, manifest, previous.reference)
            if decision.outcome == previous.outcome:
                continue
            await self._changed(key, digest, previous.outcome.value, decision, reports=(before, after))

    async def _changed(
        self,
        key: RepoKey,
        digest: str,
        was: str,
        decision: Decision,
        *,
        reports: tuple[ScanReport | None, ScanReport],
    ) -> None:
        before, after = reports
        now = datetime.now(UTC)
        detail = {
            "before": was,
            "after": decision.outcome.value,
            "db_version": after.db_version,
            "previous_db_version": before.db_version if before else None,
            "findings": len(after.findings),
        }
        await self._audit.insert_events(
            [
                NewAuditEvent(
                    created_at=now,
                    kind="rescan",
                    upstream=key.upstream,
                    repository=str(key.name),
                    digest=digest,
                    decision_id=decision.id,
                    outcome=decision.outcome.value,
                    reasons=decision.reasons_as_dicts(),
                    policy_version=decision.policy_version,
                    detail=detail,
                )
            ]
        )
        pullers, _ = await self._audit.who_pulled(digest, PULLERS_LISTED)
        self._webhooks.notify(
            {
                "id": str(uuid.uuid4()),
                "event": "verdict.changed",
                "at": now.isoformat(),
                "image": f"{key}@{digest}",
                "upstream": key.upstream,
                "repository": str(key.name),
                "digest": digest,
                "decision_id": decision.id,
                **detail,
                "reasons": decision.reasons_as_dicts(),
                "pulled_by": [
                    {
                        "address": p.client_address,
                        "identity": p.identity,
                        "pulls": p.pulls,
                        "served": p.served,
                        "last_pulled_at": p.last_at.isoformat(),
                    }
                    for p in pullers
                ],
            }
        )
        log.warning(
            "verdict of %s@%s changed after a rescan: %s -> %s", key, digest, was, decision.outcome.value
        )
