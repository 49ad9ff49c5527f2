"""Scenario 1: warm blob throughput, one client and many, against nginx sendfile and the peer.

The blob is the single layer of the big image. Both proxies are warmed first (two full
downloads each); nginx serves the upstream's own file for that blob. Clients are curl
processes writing to /dev/null; one client's rate uses curl's own transfer time, the
parallel rate is all bytes over the wall time until the last client finished.
"""

from __future__ import annotations

import urllib.request

from bench.content import BenchImage
from bench.loadgen import Download, curl_download, curl_parallel
from bench.measure import Stats
from bench.report import Row, at_least, cell
from bench.scenarios.base import ScenarioResult, rotated
from bench.world import World
from tests.support.push import MANIFEST_ACCEPT

__all__ = ["prime_manifest", "run"]

_SERVERS = ("pullgate", "peer", "limit")
_MB = 1e-6


def _urls(world: World) -> dict[str, str]:
    repo, digest = world.big.repo, world.big.layers[0].digest
    return {
        "pullgate": f"{world.pullgate.url}/v2/{repo}/blobs/{digest}",
        "peer": f"{world.peer.url}/v2/{repo}/blobs/{digest}",
        "limit": f"{world.nginx.url}/blob",
    }


def _check(download: Download, size: int, server: str) -> None:
    if download.status != 200 or download.size != size:
        raise RuntimeError(f"{server}: HTTP {download.status}, {download.size} of {size} bytes")


def prime_manifest(base_url: str, image: BenchImage) -> None:
    """Pull the manifest first, as a runtime does: pullgate serves blobs of allowed images only."""
    request = urllib.request.Request(
        f"{base_url}/v2/{image.repo}/manifests/{image.tag}", headers={"Accept": MANIFEST_ACCEPT}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


async def _warm(world: World, urls: dict[str, str], size: int) -> None:
    prime_manifest(world.pullgate.url, world.big)
    prime_manifest(world.peer.url, world.big)
    for server, url in urls.items():
        for _ in range(2):
            _check(await curl_download(url), size, server)


async def _single(urls: dict[str, str], size: int, reps: int) -> dict[str, Stats]:
    rates: dict[str, list[float]] = {server: [] for server in _SERVERS}
    for rep in range(reps):
        for server in rotated(_SERVERS, rep):
            download = await curl_download(urls[server])
            _check(download, size, server)
            rates[server].append(size / download.seconds)
    return {server: Stats.of(values) for server, values in rates.items()}


async def _parallel(urls: dict[str, str], size: int, reps: int, clients: int) -> dict[str, Stats]:
    rates: dict[str, list[float]] = {server: [] for server in _SERVERS}
    for rep in range(reps):
        for server in rotated(_SERVERS, rep):
            wall, downloads = await curl_parallel(urls[server], clients)
            for download in downloads:
                _check(download, size, server)
            rates[server].append(size * clients / wall)
    return {server: Stats.of(values) for server, values in rates.items()}


def _row(title: str, stats: dict[str, Stats]) -> Row:
    pullgate, peer, limit = (stats[s].median for s in _SERVERS)
    return Row(
        scenario=title,
        metric="MB/s",
        pullgate=cell(stats["pullgate"], scale=_MB),
        peer=cell(stats["peer"], scale=_MB),
        limit="nginx " + cell(stats["limit"], scale=_MB),
        checks=[at_least(pullgate, limit, 0.9, "nginx"), at_least(pullgate, peer, 1.0, "peer")],
    )


async def run(world: World) -> ScenarioResult:
    plan = world.plan
    size = world.big.layers[0].size
    urls = _urls(world)
    await _warm(world, urls, size)
    single = await _single(urls, size, plan.blob_reps_single)
    clients = plan.blob_parallel_clients
    parallel = await _parallel(urls, size, plan.blob_reps_parallel, clients)
    mb = size // 1_000_000
    rows = [
        _row(f"1 warm blob {mb} MB, 1 client", single),
        _row(f"1 warm blob {mb} MB, {clients} clients", parallel),
    ]
    data = {
        "blob_bytes": size,
        "unit": "bytes/s",
        "single_client": {s: v.as_dict() for s, v in single.items()},
        f"{clients}_clients": {s: v.as_dict() for s, v in parallel.items()},
    }
    return ScenarioResult(rows, data)
