"""Building the vulnerability gate's parts for the composition root (`proxy.app`).

The scan service needs the gate (a finished scan makes the gate forget cached decisions)
and the gate needs the scan service (to check results): `scanning` builds the service and
the check, and `connect` closes the loop once the gate exists.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.vulndb_queries import VulnStore
from proxy.cache.mirror import Mirror
from proxy.gate.scans.builtin import BuiltinScanner
from proxy.gate.scans.check import VulnerabilityCheck
from proxy.gate.scans.external import ExternalScanner
from proxy.gate.scans.grants import ScanGrants
from proxy.gate.scans.refresh import VulnDbRefresher
from proxy.gate.scans.service import Scanner, ScanService
from proxy.gate.scans.verdicts import VerdictWatch
from proxy.gate.scans.webhooks import WebhookNotifier
from proxy.gate.service import Gate
from proxy.gate.stores import Stores
from proxy.oci.digest import Digest
from proxy.scan_settings import ScanningSettings
from proxy.scanning.backends.base import ScannerBackend
from proxy.scanning.backends.harbor import HarborAdapterBackend, HarborAdapterConfig
from proxy.scanning.backends.trivy import TrivyBackend, TrivyConfig
from proxy.scanning.layers import Limits

__all__ = ["Scanning", "needs_endpoint", "scanning"]


@dataclass
class Scanning:
    service: ScanService
    check: VulnerabilityCheck
    webhooks: WebhookNotifier
    vulns: VulnStore
    refresher: VulnDbRefresher
    _gate: Gate | None = None

    def connect(self, gate: Gate, stores: Stores) -> None:
        self._gate = gate
        self.service.on_scanned = self._forget
        self.service.on_rescanned = VerdictWatch(gate, stores.decisions, stores.audit, self.webhooks)

    def _forget(self, digest: str) -> None:
        if self._gate is not None:
            self._gate.forget(Digest.parse(digest))

    def start(self) -> None:
        self.webhooks.start()
        self.service.start()
        self.refresher.start()

    async def close(self) -> None:
        await self.refresher.close()
        await self.service.close()
        await self.webhooks.close()


def needs_endpoint(settings: ScanningSettings) -> bool:
    """Whether an external scanner is configured (and so the scanner endpoint must run)."""
    return any(name != "builtin" for name in settings.scanners)


def scanning(
    settings: ScanningSettings,
    *,
    mirror: Mirror,
    stores: Stores,
    sessions: async_sessionmaker[AsyncSession],
    reads: async_sessionmaker[AsyncSession],
    grants: ScanGrants | None = None,
    endpoint_url: str | None = None,
    http: aiohttp.ClientSession | None = None,
) -> Scanning:
    vulns = VulnStore(sessions, reads)
    scanners: list[Scanner] = []
    for name in settings.scanners:
        if name == "builtin":
            limits = Limits(max_layer_bytes=settings.max_layer_bytes)
            scanners.append(BuiltinScanner(mirror, stores.scans, vulns, limits))
            continue
        if grants is None or endpoint_url is None or http is None:
            raise ValueError(f"scanner {name} needs the scanner endpoint and an HTTP session")
        backend, matches = _backend(name, settings, http)
        scanners.append(
            ExternalScanner(
                backend,
                grants=grants,
                endpoint_url=settings.endpoint_url or endpoint_url,
                vulns=vulns,
                grant_seconds=settings.scan_timeout,
                matches_inventory=matches,
            )
        )
    service = ScanService(scanners=scanners, scans=stores.scans, vulns=vulns, settings=settings)
    webhooks = WebhookNotifier(settings.webhooks)
    return Scanning(service, VulnerabilityCheck(service), webhooks, vulns, VulnDbRefresher(settings, vulns))


def _backend(
    name: str, settings: ScanningSettings, http: aiohttp.ClientSession
) -> tuple[ScannerBackend, bool]:
    """The backend for a scanner name, and whether pullgate matches its inventory itself."""
    if name == "trivy":
        trivy = settings.trivy
        cache = trivy.cache_dir or Path(tempfile.gettempdir()) / "pullgate-trivy"
        trivy_config = TrivyConfig(
            cache_dir=cache, mode=trivy.mode, binary=trivy.binary, timeout=trivy.timeout
        )
        return TrivyBackend(trivy_config), trivy.mode == "inventory"
    adapter = next(a for a in settings.harbor_adapters if f"harbor:{a.name}" == name)
    token = adapter.token_file.read_text().strip() if adapter.token_file else None
    config = HarborAdapterConfig(
        name=adapter.name, url=str(adapter.url), bearer_token=token, deadline=adapter.timeout
    )
    return HarborAdapterBackend(config, session=http), False
