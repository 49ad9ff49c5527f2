"""The scan queue: every new image manifest is scanned once per vulnerability-database
version, by a bounded number of workers, and whoever needs the result can wait for it.

- `request` queues a scan (duplicates within this replica coalesce); `wait` waits for it.
- Across replicas the scan row is the lease (`ScanStore.start`): one replica scans a
  digest, the others poll the row until it is done or the lease expires and they take over.
- When the database version moves, `rescan` re-matches the stored inventories (no layer is
  fetched again) and hands every changed result to `on_rescanned` (verdicts, audit,
  webhooks), on a schedule and as soon as a new version is seen.
- A failed scan is recorded as failed; it is retried on the next request. Nothing here
  ever turns a failure into a clean report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from db.scan_queries import ScanRow, ScanStore
from db.vulndb_queries import VulnDbState, VulnStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.gate.scans.builtin import BuiltinScanner
from proxy.oci.digest import Digest
from proxy.scan_settings import ScanningSettings
from proxy.scanning.model import ScanReport

__all__ = ["ScanService", "ScanState"]

log = logging.getLogger(__name__)

Rescanned = Callable[[str, ScanReport | None, ScanReport], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScanState:
    latest: ScanRow | None  # newest finished scan, whatever database version it used
    current: bool  # latest is at the database version in force
    failed: str | None  # the error of a failed scan at the current version, if that is all there is


class ScanService:
    def __init__(
        self,
        *,
        scanner: BuiltinScanner,
        scans: ScanStore,
        vulns: VulnStore,
        settings: ScanningSettings,
        on_scanned: Callable[[str], None] | None = None,
        on_rescanned: Rescanned | None = None,
    ) -> None:
        self._scanner = scanner
        self._scans = scans
        self._vulns = vulns
        self._settings = settings
        # Set by the composition root once the gate exists (the gate needs this service too).
        self.on_scanned: Callable[[str], None] = on_scanned or (lambda _digest: None)
        self.on_rescanned = on_rescanned
        self._queue: asyncio.Queue[tuple[RepoKey, CachedManifest]] = asyncio.Queue(settings.queue_size)
        self._pending: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._db_version: str | None = None
        self._db_checked = 0.0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        for n in range(self._settings.concurrency):
            self._tasks.append(asyncio.create_task(self._work(), name=f"scan worker {n}"))
        self._tasks.append(asyncio.create_task(self._schedule(), name="rescans"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- asking -------------------------------------------------------------------------------
    async def db_version(self) -> str:
        if (
            self._db_version is None
            or time.monotonic() - self._db_checked >= self._settings.vulndb_check_interval
        ):
            self._db_version = str((await self._vulns.state()).version)
            self._db_checked = time.monotonic()
        return self._db_version

    async def vulndb_state(self) -> VulnDbState:
        return await self._vulns.state()

    async def state(self, digest: Digest) -> ScanState:
        version = await self.db_version()
        latest = await self._scans.latest_done(str(digest), self._scanner.name)
        current = latest is not None and latest.db_version == version
        failed = None
        if not current:
            row = await self._scans.get(str(digest), self._scanner.name, version)
            if row is not None and row.status == "failed":
                failed = row.error or "the scan failed"
        return ScanState(latest, current, failed)

    def request(self, key: RepoKey, manifest: CachedManifest) -> asyncio.Event:
        """Queue a scan of `manifest` unless one is queued or running here; its done event."""
        digest = str(manifest.digest)
        event = self._pending.get(digest)
        if event is None:
            event = asyncio.Event()
            self._pending[digest] = event
            try:
                self._queue.put_nowait((key, manifest))
            except asyncio.QueueFull:
                del self._pending[digest]
                event.set()  # nothing will run: waiters must not hang
                log.warning("scan queue full; %s not queued", digest)
        return event

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait up to `seconds` for a requested scan; whether it finished."""
        if seconds <= 0:
            return event.is_set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        return event.is_set()

    # -- working ------------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            key, manifest = await self._queue.get()
            digest = str(manifest.digest)
            try:
                await self._scan(key, manifest)
            except Exception:
                log.exception("scanning %s@%s failed", key, digest)
            finally:
                event = self._pending.pop(digest, None)
                if event is not None:
                    event.set()
                self.on_scanned(digest)

    async def _scan(self, key: RepoKey, manifest: CachedManifest) -> None:
        version = await self.db_version()
        digest = str(manifest.digest)
        lease = self._settings.scan_timeout
        deadline = time.monotonic() + lease
        while True:
            row, ours = await self._scans.start(digest, self._scanner.name, version, lease)
            if ours:
                break
            if row.done or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)  # another replica scans it; its row tells when it is done
        try:
            async with asyncio.timeout(lease):
                report = await self._scanner.scan(key, manifest, version)
        except Exception as exc:
            log.warning("scan of %s@%s failed: %s", key, digest, exc)
            await self._scans.fail(row.id, f"{type(exc).__name__}: {exc}")
            raise
        await self._scans.finish(row.id, report)
        log.info("scanned %s@%s: %d findings (db %s)", key, digest, len(report.findings), version)

    # -- rescans ------------------------------------------------------------------------------
    async def _schedule(self) -> None:
        last_version: str | None = None
        last_run = 0.0
        while True:
            try:
                version = await self.db_version()
                due = time.monotonic() - last_run >= self._settings.rescan_interval
                if version != last_version or due:
                    await self.rescan(version)
                    last_version, last_run = version, time.monotonic()
            except Exception:
                log.exception("rescanning failed; will try again")
            await asyncio.sleep(self._settings.vulndb_check_interval)

    async def rescan(self, version: str | None = None, batch: int = 200) -> int:
        """Re-match every stored inventory not yet matched against `version`; how many."""
        version = version or await self.db_version()
        done = 0
        tried: set[str] = set()
        while True:
            digests = [
                d for d in await self._scans.outdated(self._scanner.name, version, batch) if d not in tried
            ]
            if not digests:  # all done, or only ones that cannot be re-matched (no inventory) left
                return done
            for digest in digests:
                tried.add(digest)
                if await self.rematch(digest, version):
                    done += 1

    async def rematch(self, digest: str, version: str) -> bool:
        previous = await self._scans.latest_done(digest, self._scanner.name)
        if previous is None or previous.report is None or previous.report.inventory is None:
            return False
        row, ours = await self._scans.start(digest, self._scanner.name, version, self._settings.scan_timeout)
        if not ours:
            return False
        try:
            report = await self._scanner.rematch(previous.report.inventory, version)
        except Exception as exc:
            await self._scans.fail(row.id, f"{type(exc).__name__}: {exc}")
            raise
        await self._scans.finish(row.id, report)
        self.on_scanned(digest)
        if self.on_rescanned is not None:
            await self.on_rescanned(digest, previous.report, report)
        return True
