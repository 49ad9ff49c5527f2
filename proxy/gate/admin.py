"""The admin service: every operation of the admin API, behind one facade.

HTTP handlers (`proxy.api.admin`) parse, call one method here, and render; everything with
a consequence — invalidating the gate after a rule change, bumping the policy version after
a review, auditing every change, never purging busy content — happens here, once, whoever
calls. The parts (`proxy.gate.manage`) are grouped by concept: `admin.rules`,
`admin.quarantine`, ...

The HTTP layer may not import `db` (import contracts), so the store types it renders are
re-exported from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from db.admin_queries import AdminQueries, CachedImageRow, LatestDecision, ObjectTotals, StoredObjectRow
from db.audit_queries import AuditEventRow, Puller
from db.decision_queries import DecisionRow
from db.image_queries import ImageContents, ImageQueries, Part, Platformed
from db.policy_queries import StoredRule
from db.quarantine_queries import QuarantineRow, QuarantineStatus
from db.queries import MetadataStore
from db.scan_queries import AffectedImage, ScanRow
from db.stats_queries import ImageCount, ReasonCount, ScanSummary, StatsQueries
from db.token_queries import TokenInfo, TokenRole
from proxy.cache.eviction import Evictor
from proxy.gate.credential_sync import CredentialSync
from proxy.gate.credentials import CredentialKeeper
from proxy.gate.manage.access import AuditAdmin, TokensAdmin
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.credentials import CredentialsAdmin, CredentialsState
from proxy.gate.manage.decisions import DecisionsAdmin, DryRun
from proxy.gate.manage.errors import AdminError, AdminErrorKind
from proxy.gate.manage.images import ImageDetail, ImagesAdmin
from proxy.gate.manage.inspect import Contents, InspectAdmin, SignatureState, Vulnerabilities, Waiver
from proxy.gate.manage.paging import Page
from proxy.gate.manage.quarantine import QuarantineAdmin, QueueEntry, Reviewed
from proxy.gate.manage.robots import RobotRow, RobotsAdmin
from proxy.gate.manage.rules import PolicyChange, PolicyExport, RulesAdmin
from proxy.gate.manage.scans import ScansAdmin, ScanStatus
from proxy.gate.manage.stats import MAX_BUCKETS, Denials, PullSeries, StatsAdmin, TimeRange
from proxy.gate.manage.system import CacheStats, Purged, SystemAdmin, UpstreamStatus
from proxy.gate.manage.trust import MaterialView, TrustAdmin
from proxy.gate.service import Gate
from proxy.gate.signing.check import Inspection
from proxy.gate.stores import Stores
from proxy.metrics import Metrics
from proxy.settings import UpstreamSettings

if TYPE_CHECKING:
    from proxy.gate.scans.service import ScanService

__all__ = [
    "MAX_BUCKETS",
    "Actor",
    "AdminError",
    "AdminErrorKind",
    "AdminService",
    "AffectedImage",
    "AuditEventRow",
    "CacheStats",
    "CachedImageRow",
    "Contents",
    "CredentialsState",
    "DecisionRow",
    "Denials",
    "DryRun",
    "ImageContents",
    "ImageCount",
    "ImageDetail",
    "Inspection",
    "LatestDecision",
    "MaterialView",
    "ObjectTotals",
    "Page",
    "Part",
    "Platformed",
    "PolicyChange",
    "PolicyExport",
    "PullSeries",
    "Puller",
    "Purged",
    "QuarantineRow",
    "QuarantineStatus",
    "QueueEntry",
    "ReasonCount",
    "Reviewed",
    "RobotRow",
    "ScanRow",
    "ScanStatus",
    "ScanSummary",
    "SignatureState",
    "StoredObjectRow",
    "StoredRule",
    "TimeRange",
    "TokenInfo",
    "TokenRole",
    "UpstreamStatus",
    "Vulnerabilities",
    "Waiver",
]


class AdminService:
    def __init__(
        self,
        *,
        gate: Gate,
        stores: Stores,
        queries: AdminQueries,
        stats: StatsQueries,
        image_queries: ImageQueries,
        meta: MetadataStore,
        evictor: Evictor,
        metrics: Metrics,
        upstreams: Sequence[UpstreamSettings],
        max_bytes: int | None,
        credentials: tuple[CredentialKeeper, CredentialSync],
        scans: ScanService | None = None,
        credential_cache_ttl: float = 0.0,
        robot_changed: Callable[[RobotRow], None] | None = None,
    ) -> None:
        actions = ActionLog(stores.audit.insert_events)
        self.credentials = CredentialsAdmin(*credentials, actions)
        self.scans = ScansAdmin(scans, stores.scans, gate, actions)
        self.rules = RulesAdmin(stores, gate, actions)
        self.trust = TrustAdmin(stores.signing, gate, actions)
        self.decisions = DecisionsAdmin(gate, stores.decisions)
        self.images = ImagesAdmin(queries, stores.decisions, stores.quarantine, stores.audit)
        self.quarantine = QuarantineAdmin(stores.quarantine, stores.policies, gate, actions, stats)
        self.stats = StatsAdmin(stats)
        self.inspect = InspectAdmin(gate, queries, image_queries, stores.scans)
        self.audit = AuditAdmin(stores.audit)
        self.tokens = TokensAdmin(stores.tokens, actions, cache_ttl=credential_cache_ttl)
        self.robots = RobotsAdmin(stores.robots, actions, robot_changed)
        self.system = SystemAdmin(
            gate=gate,
            queries=queries,
            meta=meta,
            evictor=evictor,
            metrics=metrics,
            upstreams=upstreams,
            max_bytes=max_bytes,
            actions=actions,
        )
