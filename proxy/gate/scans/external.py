"""Trivy and Harbor scanner adapters as scanners of the scan service.

An external scanner reads the image through pullgate's scanner endpoint
(`proxy.api.scanner_registry`): a grant gives it one image — the manifest, its children and
its blobs, served from the content store without the gate — for the length of the scan, with
a secret it presents as Basic credentials. When a backend returns an inventory but no
findings (Trivy's offline `inventory` mode), the inventory is matched against pullgate's
own OSV data, so its results follow the database version like the built-in scanner's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from db.vulndb_queries import VulnStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.gate.scans.grants import ScanGrants
from proxy.scanning.backends.base import ScannerBackend, ScanTarget
from proxy.scanning.model import Inventory, ScanReport
from proxy.scanning.osv.matcher import match_inventory

__all__ = ["ExternalScanner"]


class ExternalScanner:
    def __init__(
        self,
        backend: ScannerBackend,
        *,
        grants: ScanGrants,
        endpoint_url: str,
        vulns: VulnStore,
        grant_seconds: float,
        matches_inventory: bool,
    ) -> None:
        self.name = backend.name
        self._backend = backend
        self._grants = grants
        self._endpoint_url = endpoint_url
        self._vulns = vulns
        self._grant_seconds = grant_seconds
        self._matches_inventory = matches_inventory

    async def scan(self, key: RepoKey, manifest: CachedManifest, db_version: str) -> ScanReport:
        parsed = manifest.manifest
        blobs = frozenset(d.digest for d in parsed.blobs)
        grant = self._grants.grant(key, manifest.digest, blobs, frozenset(), self._grant_seconds)
        try:
            target = ScanTarget(
                registry_url=self._endpoint_url,
                repository=grant.repository,
                digest=str(manifest.digest),
                authorization=grant.authorization,
                media_type=parsed.media_type,
            )
            report = await self._backend.scan(target)
        finally:
            self._grants.revoke(grant)
        if self._matches_inventory and report.inventory is not None:
            return await self.rematch(report.inventory, db_version)
        return ScanReport(
            self.name, db_version, report.scanned_at, report.findings, report.inventory, report.problems
        )

    async def rematch(self, inventory: Inventory, db_version: str) -> ScanReport:
        findings = await match_inventory(inventory.packages, self._vulns)
        return ScanReport(
            self.name, db_version, datetime.now(UTC), tuple(findings), inventory, inventory.problems
        )
