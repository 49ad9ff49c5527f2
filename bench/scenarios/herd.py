"""Scenario 3: a thundering herd of clients pulls one uncached image at the same moment.

Both proxies reach the upstream through the counting relay (``tests.support.relay``), so
the upstream's work is counted the same way for each. Per repetition and proxy:
- a single client pulls through an empty cache (the baseline the herd is held to);
- the herd pulls through another empty cache: wall time, upstream GETs per blob, and
  whether every client got bytes matching every digest;
- the herd pulls again, now cached: the floor this machine's clients impose on any herd.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.content import BenchImage
from bench.measure import RssSampler, Stats
from bench.pulls import Herd, HerdResult, herd_pull
from bench.report import Check, Row, at_most, cell
from bench.scenarios.base import ScenarioResult, rotated
from bench.services import start_peer, stop_registry
from bench.world import World
from tests.support.relay import Relay

__all__ = ["UpstreamCounts", "count_upstream", "fresh_proxy", "run"]

_PROXIES = ("pullgate", "peer")


@dataclass(frozen=True)
class UpstreamCounts:
    blob_gets: dict[str, int]  # per blob digest of the image
    blob_heads: int
    manifest_requests: int
    bytes_sent: int

    @property
    def max_gets(self) -> int:
        return max(self.blob_gets.values(), default=0)

    @property
    def exactly_once(self) -> bool:
        return all(count == 1 for count in self.blob_gets.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "blob_gets": self.blob_gets,
            "blob_heads": self.blob_heads,
            "manifest_requests": self.manifest_requests,
            "bytes_sent": self.bytes_sent,
        }


def count_upstream(relay: Relay, image: BenchImage) -> UpstreamCounts:
    gets: Counter[str] = Counter()
    heads = manifests = sent = 0
    for request in relay.requests:
        sent += request.bytes_sent
        if "/manifests/" in request.path:
            manifests += 1
        elif "/blobs/" in request.path:
            digest = request.path.rsplit("/", 1)[-1]
            if request.method == "GET":
                gets[digest] += 1
            elif request.method == "HEAD":
                heads += 1
    blob_gets = {digest: gets.get(digest, 0) for digest in image.blob_digests}
    return UpstreamCounts(blob_gets, heads, manifests, sent)


@contextmanager
def fresh_proxy(world: World, kind: str, name: str) -> Iterator[tuple[str, int | None]]:
    """An empty-cache pullgate (url, pid) or peer (url, None) behind the relay, stopped on exit."""
    if kind == "pullgate":
        pullgate = world.start_pullgate(world.relay.url, name)
        try:
            yield pullgate.url, pullgate.pid
        finally:
            pullgate.stop()
        return
    peer = start_peer(world.work, world.relay.url, world.cleanup, name=name)
    try:
        yield peer.url, None
    finally:
        stop_registry(peer)


async def _pull(herd: Herd, pid: int | None) -> tuple[HerdResult, int | None]:
    """One herd pull, with the proxy's peak RSS when it is pullgate (for the record)."""
    if pid is None:
        return await herd.pull(), None
    with RssSampler(pid) as sampler:
        result = await herd.pull()
    return result, sampler.peak_sampled_kib


async def _one_proxy(world: World, kind: str, rep: int, image: BenchImage) -> dict[str, Any]:
    relay = world.relay
    with fresh_proxy(world, kind, f"herd-{kind}-single-{rep}") as (url, _pid):
        relay.log.clear()
        single = await herd_pull(url, image, 1)
    with fresh_proxy(world, kind, f"herd-{kind}-{rep}") as (url, pid):
        async with Herd(url, image, world.plan.herd_clients) as herd:
            relay.log.clear()
            cold, rss = await _pull(herd, pid)
            counts = count_upstream(relay, image)
            warm = await herd.pull()
    return {"single": single, "cold": cold, "warm": warm, "counts": counts, "peak_rss_kib": rss}


Runs = dict[str, list[dict[str, Any]]]
Seconds = dict[tuple[str, str], Stats]


def _wall_rows(n: int, mb: int, seconds: Seconds) -> list[Row]:
    pg_cold, pg_single = seconds["pullgate", "cold"].median, seconds["pullgate", "single"].median
    peer_ratio = seconds["peer", "cold"].median / seconds["peer", "single"].median
    cold = Row(
        scenario=f"3 herd {n} clients, {mb} MB, cold",
        metric="seconds",
        pullgate=cell(seconds["pullgate", "cold"], 2),
        peer=cell(seconds["peer", "cold"], 2),
        limit="1 client cold " + cell(seconds["pullgate", "single"], 2),
        checks=[at_most(pg_cold, pg_single, 1.3, "1 client")],
        note=f"peer herd/1-client ratio {peer_ratio:.2f}x; 1 client cold through the peer "
        f"{seconds['peer', 'single'].median:.2f} s",
    )
    warm_ratio = pg_cold / seconds["pullgate", "warm"].median
    cached = Row(
        scenario=f"3 herd {n} clients, cached (floor)",
        metric="seconds",
        pullgate=cell(seconds["pullgate", "warm"], 2),
        peer=cell(seconds["peer", "warm"], 2),
        checks=[Check(f"cold/cached {warm_ratio:.2f}x", "", None)],
        note="all clients share this machine's 2 cores: the cached herd is the floor for any cold herd here",
    )
    return [cold, cached]


def _fetches_row(runs: Runs, image: BenchImage) -> Row:
    gets = {kind: max(r["counts"].max_gets for r in runs[kind]) for kind in _PROXIES}
    once = all(r["counts"].exactly_once for r in runs["pullgate"])
    return Row(
        scenario="3 herd: upstream GETs per blob",
        metric="max count",
        pullgate=str(gets["pullgate"]),
        peer=str(gets["peer"]),
        checks=[Check(f"{gets['pullgate']} per blob", "exactly 1 each", once)],
        note=_traffic_note(runs, image),
    )


def _correct_row(runs: Runs, n: int) -> Row:
    correct = {kind: sum(r["cold"].correct for r in runs[kind]) for kind in _PROXIES}
    expected = {kind: len(runs[kind]) * n for kind in _PROXIES}
    text = {kind: f"{correct[kind]}/{expected[kind]}" for kind in _PROXIES}
    return Row(
        scenario="3 herd: clients with correct bytes",
        metric="clients",
        pullgate=text["pullgate"],
        peer=text["peer"],
        checks=[Check(text["pullgate"], "all", correct["pullgate"] == expected["pullgate"])],
    )


def _rows(world: World, runs: Runs, image: BenchImage) -> list[Row]:
    n = world.plan.herd_clients
    seconds = {
        (kind, what): Stats.of([r[what].seconds for r in runs[kind]])
        for kind in _PROXIES
        for what in ("single", "cold", "warm")
    }
    cold, cached = _wall_rows(n, image.total_bytes // 1_000_000, seconds)
    return [cold, _fetches_row(runs, image), _correct_row(runs, n), cached]


def _traffic_note(runs: dict[str, list[dict[str, Any]]], image: BenchImage) -> str:
    parts = []
    for kind in _PROXIES:
        counts = runs[kind][-1]["counts"]
        factor = counts.bytes_sent / image.total_bytes
        parts.append(
            f"{kind}: {factor:.1f}x the image from upstream, {counts.blob_heads} blob HEADs, {counts.manifest_requests} manifest requests"
        )
    return "; ".join(parts)


def _data(runs: dict[str, list[dict[str, Any]]], image: BenchImage) -> dict[str, Any]:
    return {
        "image_bytes": image.total_bytes,
        "blobs": len(image.blob_digests),
        "runs": {
            kind: [
                {
                    "single": r["single"].as_dict(),
                    "cold": r["cold"].as_dict(),
                    "warm": r["warm"].as_dict(),
                    "upstream": r["counts"].as_dict(),
                    "peak_rss_kib": r["peak_rss_kib"],
                }
                for r in runs[kind]
            ]
            for kind in _PROXIES
        },
    }


async def run(world: World) -> ScenarioResult:
    image = await world.image("herd")
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _PROXIES}
    for rep in range(world.plan.herd_reps):
        for kind in rotated(_PROXIES, rep):
            runs[kind].append(await _one_proxy(world, kind, rep, image))
    return ScenarioResult(_rows(world, runs, image), _data(runs, image))
