"""Scenario 2: cold pull of the big image with ``skopeo copy``, through empty caches.

Every repetition pulls directly from the upstream, through a pullgate started on a fresh
data directory, and through a peer started on fresh storage (in rotating order). Only the
skopeo run is timed; starting and stopping the proxies is not.
"""

from __future__ import annotations

from bench.measure import Stats
from bench.pulls import skopeo_pull
from bench.report import Row, at_most, cell
from bench.scenarios.base import ScenarioResult, rotated
from bench.services import start_peer, stop_registry
from bench.world import World

__all__ = ["run"]

_WAYS = ("direct", "pullgate", "peer")


async def _pull_once(world: World, way: str, rep: int) -> float:
    out = world.work / "skopeo-out"
    if way == "direct":
        return await skopeo_pull(world.upstream.host, world.big, out)
    if way == "pullgate":
        pullgate = world.start_pullgate(world.upstream.url, f"cold-pullgate-{rep}")
        try:
            return await skopeo_pull(pullgate.host, world.big, out)
        finally:
            pullgate.stop()
    peer = start_peer(world.work, world.upstream.url, world.cleanup, name=f"cold-peer-{rep}")
    try:
        return await skopeo_pull(peer.host, world.big, out)
    finally:
        stop_registry(peer)


async def run(world: World) -> ScenarioResult:
    times: dict[str, list[float]] = {way: [] for way in _WAYS}
    for rep in range(world.plan.cold_reps):
        for way in rotated(_WAYS, rep):
            times[way].append(await _pull_once(world, way, rep))
    stats = {way: Stats.of(values) for way, values in times.items()}
    pullgate, peer, direct = stats["pullgate"].median, stats["peer"].median, stats["direct"].median
    mb = world.big.total_bytes // 1_000_000
    row = Row(
        scenario=f"2 cold pull {mb} MB (skopeo)",
        metric="seconds",
        pullgate=cell(stats["pullgate"], 2),
        peer=cell(stats["peer"], 2),
        limit="direct " + cell(stats["direct"], 2),
        checks=[at_most(pullgate, direct, 1.15, "direct"), at_most(pullgate, peer, 1.0, "peer", strict=True)],
    )
    return ScenarioResult(
        [row], {"image_bytes": world.big.total_bytes, "seconds": {w: s.as_dict() for w, s in stats.items()}}
    )
