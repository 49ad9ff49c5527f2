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
- Several scanners may be configured (`scanning.scanners`): each keeps its own row per
  digest and database version, and a policy may name the ones it trusts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from db.scan_queries import ScanRow, ScanStore
from db.vulndb_queries import VulnDbState, VulnStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.oci.digest import Digest
from proxy.scan_settings import ScanningSettings
from proxy.scanning.model import Finding, Inventory, ScanReport

__all__ = ["CombinedState", "ScanService", "ScanState", "Scanner"]

log = logging.getLogger(__name__)

Rescanned = Callable[[str, ScanReport | None, ScanReport], Awaitable[None]]


class Scanner(Protocol):
    name: str

    async def scan(self, key: RepoKey, manifest: CachedManifest, db_version: str) -> ScanReport: ...
    async def rematch(self, inventory: Inventory, db_version: str) -> ScanReport: ...


@dataclass(frozen=True, slots=True)
class ScanState:
    latest: ScanRow | None  # newest finished scan, whatever database version it used
    current: bool  # latest is at the database version in force
    failed: str | None  # the error of a failed scan at the current version, if that is all there is


@dataclass(frozen=True, slots=True)
class CombinedState:
    """The scans of one digest by every scanner asked for, merged for the policy."""

    states: dict[str, ScanState]

    @property
    def report(self) -> ScanReport | None:
        """Every scanner's newest finished report, findings merged; None if one has none."""
        rows = [s.latest for s in self.states.values()]
        if not rows or any(r is None or r.report is None for r in rows):
            return None
        reports = [r.report for r in rows if r is not None and r.report is not None]
        if len(reports) == 1:
            return reports[0]
        seen: dict[tuple[str, str, str], Finding] = {}
        for report in reports:
            for finding in report.findings:
                seen.setdefault((finding.vulnerability, finding.package, finding.installed_version), finding)
        return ScanReport(
            "+".join(r.scanner for r in reports),
            "+".join(r.db_version for r in reports),
            min(r.scanned_at for r in reports),
            tuple(seen.values()),
            next((r.inventory for r in reports if r.inventory is not None), None),
            tuple(p for r in reports for p in r.problems),
        )

    @property
    def current(self) -> bool:
        return all(s.current for s in self.states.values())

    @property
    def failed(self) -> str | None:
        return next((f"{name}: {s.failed}" for name, s in self.states.items() if s.failed), None)


class ScanService:
    def __init__(
        self,
        *,
        scanners: Sequence[Scanner],
        scans: ScanStore,
        vulns: VulnStore,
        settings: ScanningSettings,
        on_scanned: Callable[[str], None] | None = None,
        on_rescanned: Rescanned | None = None,
    ) -> None:
        if not scanners:
            raise ValueError("at least one scanner is needed")
        self._scanners = {s.name: s for s in scanners}
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

    @property
    def scanner_names(self) -> tuple[str, ...]:
        return tuple(self._scanners)

    async def state(self, digest: Digest, scanners: Sequence[str] = ()) -> CombinedState:
        """The scans of `digest` by `scanners` (default: every configured one)."""
        names = [n for n in scanners if n in self._scanners] or list(self._scanners)
        return CombinedState({name: await self._state(digest, name) for name in names})

    async def _state(self, digest: Digest, scanner: str) -> ScanState:
        version = await self.db_version()
        latest = await self._scans.latest_done(str(digest), scanner)
        current = latest is not None and latest.db_version == version
        failed = None
        if not current:
            row = await self._scans.get(str(digest), scanner, version)
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
        failures = []
        for scanner in self._scanners.values():
            try:
                await self._scan_with(scanner, key, manifest)
            except Exception as exc:  # one scanner failing must not keep the others from running
                failures.append(exc)
        if failures:
            raise failures[0]

    async def _scan_with(self, scanner: Scanner, key: RepoKey, manifest: CachedManifest) -> None:
        version = await self.db_version()
        digest = str(manifest.digest)
        lease = self._settings.scan_timeout
        deadline = time.monotonic() + lease
        while True:
            row, ours = await self._scans.start(digest, scanner.name, version, lease)
            if ours:
                break
            if row.done or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)  # another replica scans it; its row tells when it is done
        try:
            async with asyncio.timeout(lease):
                report = await scanner.scan(key, manifest, version)
        except Exception as exc:
            log.warning("%s scan of %s@%s failed: %s", scanner.name, key, digest, exc)
            await self._scans.fail(row.id, f"{type(exc).__name__}: {exc}")
            raise
        await self._scans.finish(row.id, report)
        log.info(
            "%s scanned %s@%s: %d findings (db %s)", scanner.name, key, digest, len(report.findings), version
        )

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
        for scanner in self._scanners.values():
            tried: set[str] = set()
            while True:
                outdated = await self._scans.outdated(scanner.name, version, batch)
                digests = [d for d in outdated if d not in tried]
                if not digests:  # all done, or only ones that cannot be re-matched (no inventory) left
                    break
                for digest in digests:
                    tried.add(digest)
                    if await self.rematch(digest, version, scanner.name):
                        done += 1
        return done

    async def rematch(self, digest: str, version: str, scanner_name: str | None = None) -> bool:
        """Re-match a stored inventory against `version`; False if there is nothing to re-match."""
        if scanner_name is None:
            matched = [await self.rematch(digest, version, name) for name in self._scanners]
            return any(matched)
        scanner = self._scanners[scanner_name]
        previous = await self._scans.latest_done(digest, scanner.name)
        if previous is None or previous.report is None or previous.report.inventory is None:
            return False
        if previous.db_version == version:
            return False
        row, ours = await self._scans.start(digest, scanner.name, version, self._settings.scan_timeout)
        if not ours:
            return False
        try:
            report = await scanner.rematch(previous.report.inventory, version)
        except Exception as exc:
            await self._scans.fail(row.id, f"{type(exc).__name__}: {exc}")
            raise
        await self._scans.finish(row.id, report)
        self.on_scanned(digest)
        if self.on_rescanned is not None:
            await self.on_rescanned(digest, previous.report, report)
        return True
