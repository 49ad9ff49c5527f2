"""The built-in scanner: analyse each layer once (through pullgate's own content store, never
through the gate), build the image's inventory, and match it against the OSV data.

Layers are read from the store, filled from the upstream like any cached blob if they are
not there yet, so the scanner neither goes around the cache nor can be blocked by the gate.
A layer's analysis is stored by digest: an image that shares a base image is analysed only
for its own layers. Re-matching a stored inventory against a newer database is
`rematch`, which downloads nothing.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from db.scan_queries import ScanStore
from db.vulndb_queries import VulnStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.cache.mirror import Mirror
from proxy.oci.manifest import Descriptor
from proxy.scanning.inventory import build_inventory
from proxy.scanning.layers import ANALYZER_VERSION, Limits, analyse_layer
from proxy.scanning.model import Inventory, LayerAnalysis, ScanReport
from proxy.scanning.osv.matcher import match_inventory

__all__ = ["BuiltinScanner"]

log = logging.getLogger(__name__)


class BuiltinScanner:
    name = "builtin"

    def __init__(self, mirror: Mirror, scans: ScanStore, vulns: VulnStore, limits: Limits) -> None:
        self._mirror = mirror
        self._scans = scans
        self._vulns = vulns
        self._limits = limits

    async def scan(self, key: RepoKey, manifest: CachedManifest, db_version: str) -> ScanReport:
        layers = list(manifest.manifest.layers)
        known = await self._scans.analyses([str(d.digest) for d in layers], ANALYZER_VERSION)
        analyses: list[LayerAnalysis] = []
        for descriptor in layers:
            analysis = known.get(str(descriptor.digest))
            if analysis is None:
                analysis = await self._analyse(key, descriptor)
                await self._scans.save_analysis(analysis)
            analyses.append(analysis)
        inventory = build_inventory(analyses)
        return await self.rematch(inventory, db_version)

    async def rematch(self, inventory: Inventory, db_version: str) -> ScanReport:
        findings = await match_inventory(inventory.packages, self._vulns)
        return ScanReport(
            self.name, db_version, datetime.now(UTC), tuple(findings), inventory, inventory.problems
        )

    async def _analyse(self, key: RepoKey, descriptor: Descriptor) -> LayerAnalysis:
        source = await self._mirror.blob(key, descriptor.digest)
        try:
            await source.settle()  # the whole layer, verified, in the store
            if source.local_path is not None:
                return await asyncio.to_thread(_analyse_path, source.local_path, descriptor, self._limits)
            # A store without local files (object storage): spool to a temporary file.
            with tempfile.NamedTemporaryFile(prefix="pullgate-layer-") as spool:
                async for chunk in source.stream():
                    await asyncio.to_thread(spool.write, chunk)
                spool.flush()
                return await asyncio.to_thread(_analyse_path, Path(spool.name), descriptor, self._limits)
        finally:
            source.release()


def _analyse_path(path: Path, descriptor: Descriptor, limits: Limits) -> LayerAnalysis:
    with path.open("rb") as stream:
        return analyse_layer(
            stream, digest=str(descriptor.digest), media_type=descriptor.media_type, limits=limits
        )
