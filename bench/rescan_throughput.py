"""Scenario 7: rescan throughput — stored inventories re-matched against an updated database.

Builds a migrated SQLite database (or the PostgreSQL one given with --database), imports a
vulnerability database of OSV records for real Debian 12 package names (this machine's own
dpkg database supplies names and versions), stores N finished scans whose inventories are
random draws of those packages (as the built-in scanner leaves them), imports an update that
moves the database version, then times `ScanService.rescan`: every inventory re-matched with
no layer fetched, each result written as a new scan. Prints images per second.

    python -m bench.rescan_throughput [--images 10000] [--packages 150] [--records 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.migrate import upgrade
from db.scan_queries import ScanStore
from db.session import create_engine, session_factory
from db.vulndb_queries import VulnStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.gate.scans.service import ScanService
from proxy.scan_settings import ScanningSettings
from proxy.scanning.model import Inventory, OperatingSystem, Package, ScanReport
from proxy.scanning.osv.matcher import match_inventory
from proxy.scanning.osv.record import parse_record

RESULTS = Path(__file__).resolve().parent / "results" / "rescan_throughput.json"
DEBIAN_12 = OperatingSystem("debian", "12", "Debian GNU/Linux 12 (bookworm)", "Debian:12")


class Rematcher:
    """The built-in scanner's re-match step alone (a rescan fetches no layer)."""

    name = "builtin"

    def __init__(self, vulns: VulnStore) -> None:
        self._vulns = vulns

    async def scan(self, key: RepoKey, manifest: CachedManifest, db_version: str) -> ScanReport:
        raise NotImplementedError("rescans only")

    async def rematch(self, inventory: Inventory, db_version: str) -> ScanReport:
        findings = await match_inventory(inventory.packages, self._vulns)
        return ScanReport(self.name, db_version, datetime.now(UTC), tuple(findings), inventory)


def host_packages() -> list[tuple[str, str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${source:Package}\t${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [tuple(line.split("\t")[1:4]) for line in out.splitlines() if line.startswith("ii")]  # type: ignore[misc]


def records(packages: list[tuple[str, str, str]], count: int, rng: random.Random, tag: str) -> list[Any]:
    """OSV records shaped like Debian's: one source package, fixed above or below what is installed."""
    sources = sorted({(source, version) for _, source, version in packages})
    made = []
    for n in range(count):
        source, installed = rng.choice(sources)
        fixed = installed + "+fix1" if rng.random() < 0.3 else "0.0-0"  # 30 % still affect the image
        made.append(
            parse_record(
                {
                    "schema_version": "1.6.0",
                    "id": f"DEBIAN-BENCH-{tag}-{n}",
                    "modified": "2026-11-01T00:00:00Z",
                    "affected": [
                        {
                            "package": {"ecosystem": "Debian:12", "name": source},
                            "ranges": [
                                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                            ],
                        }
                    ],
                    "severity": [
                        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
                    ],
                }
            )
        )
    return made


async def measure(url: str, images: int, per_image: int, record_count: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    installed = host_packages()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, pool_size=4)
    try:
        sessions = session_factory(engine)
        vulns, scans = VulnStore(sessions), ScanStore(sessions)
        await vulns.import_records(records(installed, record_count, rng, "a"), "bench")
        version = str((await vulns.state()).version)
        started = time.perf_counter()
        for n in range(images):
            drawn = rng.sample(installed, min(per_image, len(installed)))
            packages = tuple(Package(name, ver, "Debian:12", source_name=src) for name, src, ver in drawn)
            inventory = Inventory(DEBIAN_12, packages)
            row, _ = await scans.start(f"sha256:{n:064x}", "builtin", version, lease=3600)
            await scans.finish(row.id, ScanReport("builtin", version, datetime.now(UTC), (), inventory))
        stored_s = time.perf_counter() - started
        await vulns.import_records(records(installed, record_count // 10, rng, "b"), "bench update")
        new_version = str((await vulns.state()).version)
        service = ScanService(
            scanners=[Rematcher(vulns)], scans=scans, vulns=vulns, settings=ScanningSettings()
        )
        started = time.perf_counter()
        rescanned = await service.rescan(new_version)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "database": url.split(":", 1)[0],
        "images": images,
        "packages_per_image": per_image,
        "records": record_count + record_count // 10,
        "rescanned": rescanned,
        "seconds": round(elapsed, 2),
        "images_per_second": round(rescanned / elapsed, 1) if elapsed else None,
        "store_seconds": round(stored_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--packages", type=int, default=150)
    parser.add_argument("--records", type=int, default=3_000)
    parser.add_argument("--database", default=None, help="a database URL (default: a new SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1,000 images")
    args = parser.parse_args()
    images = 1_000 if args.quick else args.images
    with tempfile.TemporaryDirectory(prefix="pullgate-rescan-") as scratch:
        url = args.database or f"sqlite+aiosqlite:///{scratch}/bench.db"
        result = asyncio.run(measure(url, images, args.packages, args.records, args.seed))
    report = {
        "benchmark": "rescan_throughput",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **result,
    }
    print(json.dumps(report))
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
