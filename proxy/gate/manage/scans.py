"""Scans for admins: a digest's scan status and report, a rescan on demand, the images a
vulnerability affects, an image's inventory as CycloneDX, and the database's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from db.scan_queries import AffectedImage, ScanRow, ScanStore
from proxy.cache.keys import RepoKey
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.service import Gate
from proxy.oci.digest import Digest
from proxy.oci.errors import RegistryError
from proxy.scanning.cyclonedx import to_cyclonedx

if TYPE_CHECKING:  # the service pulls in every scanner; this module only calls it
    from db.vulndb_queries import VulnDbState
    from proxy.gate.scans.service import ScanService

__all__ = ["ScanStatus", "ScansAdmin"]


@dataclass(frozen=True, slots=True)
class ScanStatus:
    digest: str
    db_version: str
    current: bool  # the newest finished scan used the database version in force
    latest: ScanRow | None
    history: list[ScanRow]


class ScansAdmin:
    def __init__(self, service: ScanService | None, scans: ScanStore, gate: Gate, actions: ActionLog) -> None:
        self._service = service
        self._scans = scans
        self._gate = gate
        self._actions = actions

    def _running(self) -> ScanService:
        if self._service is None:
            raise AdminError(AdminErrorKind.CONFLICT, "scanning is disabled (scanning.enabled: false)")
        return self._service

    async def status(self, digest: Digest) -> ScanStatus:
        service = self._running()
        state = await service.state(digest)
        history = await self._scans.history(str(digest))
        if not history:
            raise not_found(f"scan of {digest}")
        latest = [s.latest for s in state.states.values() if s.latest is not None]
        newest = max(latest, key=lambda row: row.id) if latest else None
        return ScanStatus(str(digest), await service.db_version(), state.current, newest, history)

    async def rescan(self, actor: Actor, key: RepoKey, digest: Digest) -> str:
        """Queue a scan (or re-match against the database in force); what was done."""
        service = self._running()
        try:
            manifest = await self._gate.mirror.cached_manifest(key, digest)
        except RegistryError as exc:
            raise not_found(f"manifest {digest} in {key}") from exc
        state = await service.state(digest)
        if state.report is not None and state.report.inventory is not None:
            version = await service.db_version()
            done = (
                "rematched"
                if not state.current and await service.rematch(str(digest), version)
                else "re-decided"
            )
            self._gate.forget(digest)
        else:
            service.request(key, manifest)
            done = "queued"
        await self._actions.record(actor, "scan.rescan", repository=str(key), digest=str(digest), result=done)
        return done

    async def affected(self, vulnerability: str) -> list[AffectedImage]:
        return await self._scans.affected_by(vulnerability)

    async def sbom(self, digest: Digest) -> dict[str, Any]:
        latest = await self._scans.latest_done(str(digest))
        if latest is None or latest.report is None or latest.report.inventory is None:
            raise not_found(
                f"an inventory of {digest} (it has not been scanned by a scanner that lists packages)"
            )
        return to_cyclonedx(
            latest.report.inventory, image=str(digest), digest=str(digest), created=datetime.now(UTC)
        )

    async def vulndb(self) -> VulnDbState:
        service = self._running()
        return await service.vulndb_state()
