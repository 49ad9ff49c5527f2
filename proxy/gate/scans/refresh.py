"""Scheduled vulnerability-database refresh from `scanning.vulndb_sources`.

Each source is a path (an OSV all.zip, a directory or a JSON file) or an http(s) URL of an
archive, downloaded to a temporary file first (bounded in size and time) so a half-read
download is never imported. Imports are idempotent: a replica that imports what another
already did changes nothing and moves no version. A failing source is logged and retried at
the next interval; the others are still imported.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import aiohttp

from db.vulndb_queries import VulnStore
from proxy.scan_settings import ScanningSettings
from proxy.scanning.osv.importer import import_paths

__all__ = ["VulnDbRefresher"]

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 4 * 1024**3  # all of OSV zipped is well under 1 GiB
DOWNLOAD_TIMEOUT = 1800.0


class VulnDbRefresher:
    def __init__(self, settings: ScanningSettings, vulns: VulnStore) -> None:
        self._sources = settings.vulndb_sources
        self._interval = settings.vulndb_refresh_interval
        self._vulns = vulns
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._sources and self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="vulndb refresh")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval)

    async def refresh(self) -> int:
        """Import every source once; how many could be read."""
        read = 0
        for source in self._sources:
            try:
                if source.startswith(("http://", "https://")):
                    with tempfile.TemporaryDirectory(prefix="pullgate-osv-") as scratch:
                        path = Path(scratch) / "all.zip"
                        await _download(source, path)
                        report = await import_paths([path], self._vulns, source=source)
                else:
                    report = await import_paths([Path(source)], self._vulns, source=source)
            except Exception as exc:
                log.error("vulnerability database source %s failed: %s", source, exc)
                continue
            if report.sources_failed:
                log.error(
                    "vulnerability database source %s could not be read: %s", source, report.problems[:1]
                )
                continue
            read += 1
            log.info("vulnerability database source %s: version %s", source, report.result.version)
        return read


async def _download(url: str, path: Path) -> None:
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        resp.raise_for_status()
        written = 0
        with path.open("wb") as out:
            async for chunk in resp.content.iter_chunked(1024 * 1024):
                written += len(chunk)
                if written > MAX_DOWNLOAD_BYTES:
                    raise ValueError(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
                await asyncio.to_thread(out.write, chunk)
