"""Building the vulnerability gate's parts for the composition root (`proxy.app`).

The scan service needs the gate (a finished scan makes the gate forget cached decisions)
and the gate needs the scan service (to check results): `scanning` builds the service and
the check, and `connect` closes the loop once the gate exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.vulndb_queries import VulnStore
from proxy.cache.mirror import Mirror
from proxy.gate.scans.builtin import BuiltinScanner
from proxy.gate.scans.check import VulnerabilityCheck
from proxy.gate.scans.refresh import VulnDbRefresher
from proxy.gate.scans.service import ScanService
from proxy.gate.scans.verdicts import VerdictWatch
from proxy.gate.scans.webhooks import WebhookNotifier
from proxy.gate.service import Gate
from proxy.gate.stores import Stores
from proxy.oci.digest import Digest
from proxy.scan_settings import ScanningSettings
from proxy.scanning.layers import Limits

__all__ = ["Scanning", "scanning"]


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


def scanning(
    settings: ScanningSettings,
    *,
    mirror: Mirror,
    stores: Stores,
    sessions: async_sessionmaker[AsyncSession],
    reads: async_sessionmaker[AsyncSession],
) -> Scanning:
    vulns = VulnStore(sessions, reads)
    scanner = BuiltinScanner(mirror, stores.scans, vulns, Limits(max_layer_bytes=settings.max_layer_bytes))
    service = ScanService(scanners=[scanner], scans=stores.scans, vulns=vulns, settings=settings)
    webhooks = WebhookNotifier(settings.webhooks)
    return Scanning(service, VulnerabilityCheck(service), webhooks, vulns, VulnDbRefresher(settings, vulns))
