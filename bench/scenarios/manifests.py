"""Scenario 4: manifest requests, HEAD and GET, by tag and by digest, at many connections.

Against the warm pullgate, the warm peer and the upstream directly, the servers in rotating
order. GET runs use wrk; HEAD runs use ab (Debian's wrk cannot do HEAD, see
``bench.loadgen``). Targets per variant: at least 2x the peer's and 1x the upstream's
requests/s, p99 at most 20 ms, no errors. pullgate runs with the plan's generated policy
rules (``bench.policy_hook``).

Sustained, not burst: each server first takes ``plan.manifest_preload_seconds`` of load that
is not measured, then its four variants run back to back. pullgate queues an audit record
per request (10,000 by default) and a short run after an idle pause only measures how fast
that queue fills; what a busy registry sees is the rate once it is full.
"""

from __future__ import annotations

import urllib.request
from typing import Any

from bench.loadgen import LoadResult, ab_head, wrk_get
from bench.measure import Stats
from bench.policy_hook import PolicyLoad
from bench.report import Check, Row, at_least
from bench.scenarios.base import ScenarioResult, rotated
from bench.world import SMALL_REPO, SMALL_TAG, World
from tests.support.push import MANIFEST_ACCEPT

__all__ = ["run"]

_TARGETS = ("pullgate", "peer", "upstream")
_VARIANTS = (("GET", "tag"), ("GET", "digest"), ("HEAD", "tag"), ("HEAD", "digest"))
_P99_TARGET_MS = 20.0


def _bases(world: World) -> dict[str, str]:
    return {"pullgate": world.pullgate.url, "peer": world.peer.url, "upstream": world.upstream.url}


def _url(base: str, world: World, by: str) -> str:
    reference = SMALL_TAG if by == "tag" else world.small.digest
    return f"{base}/v2/{SMALL_REPO}/manifests/{reference}"


async def _load(method: str, url: str, world: World) -> LoadResult:
    plan = world.plan
    if method == "GET":
        return await wrk_get(url, MANIFEST_ACCEPT, plan.manifest_connections, plan.manifest_seconds)
    return await ab_head(url, MANIFEST_ACCEPT, plan.manifest_connections, plan.manifest_seconds)


def _warm(world: World, bases: dict[str, str]) -> None:
    """Each variant asked of each server a few times: caches filled, code paths warm."""
    for method, by in _VARIANTS:
        for target in _TARGETS:
            url = _url(bases[target], world, by)
            for _ in range(3):
                request = urllib.request.Request(url, method=method, headers={"Accept": MANIFEST_ACCEPT})
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()


def _stats(results: list[LoadResult]) -> dict[str, Any]:
    return {
        "rps": Stats.of([r.rps for r in results]),
        "p99_ms": Stats.of([r.p99_ms for r in results]),
        "errors": sum(r.errors for r in results),
        "tool": results[0].tool,
    }


def _cell(summary: dict[str, Any]) -> str:
    return f"{summary['rps'].median:.0f}, {summary['p99_ms'].median:.1f}, {summary['errors']}"


def _row(method: str, by: str, summaries: dict[str, dict[str, Any]]) -> Row:
    pullgate = summaries["pullgate"]
    rps = {target: summaries[target]["rps"].median for target in _TARGETS}
    p99, errors = pullgate["p99_ms"].median, pullgate["errors"]
    return Row(
        scenario=f"4 manifest {method} by {by} ({pullgate['tool']})",
        metric="rps, p99 ms, errors",
        pullgate=_cell(pullgate),
        peer=_cell(summaries["peer"]),
        limit="upstream " + _cell(summaries["upstream"]),
        checks=[
            at_least(rps["pullgate"], rps["peer"], 2.0, "peer"),
            at_least(rps["pullgate"], rps["upstream"], 1.0, "upstream"),
            Check(f"p99 {p99:.1f} ms", f"p99 <= {_P99_TARGET_MS:g} ms", p99 <= _P99_TARGET_MS),
            Check(f"{errors} errors", "0 errors", errors == 0),
        ],
    )


def _policy_row(policy: PolicyLoad) -> Row:
    return Row(
        scenario="4 manifest: policy rules loaded",
        metric="rules",
        pullgate=f"{policy.loaded} of {policy.requested}",
        checks=[
            Check(f"{policy.loaded} rules", f"{policy.requested} rules", policy.loaded == policy.requested)
        ],
        note=f"{policy.status}\nsustained load (after a pre-load); with a fixed number of connections "
        "the mean latency is connections / rate (Little's law): p99 <= 20 ms at 64 connections "
        "needs well over 3,200 req/s",
    )


async def _measure(world: World, bases: dict[str, str]) -> dict[tuple[str, str, str], list[LoadResult]]:
    plan = world.plan
    results: dict[tuple[str, str, str], list[LoadResult]] = {}
    for rep in range(plan.manifest_reps):
        for target in rotated(_TARGETS, rep):
            preload = _url(bases[target], world, "tag")
            await wrk_get(preload, MANIFEST_ACCEPT, plan.manifest_connections, plan.manifest_preload_seconds)
            for method, by in _VARIANTS:
                result = await _load(method, _url(bases[target], world, by), world)
                results.setdefault((method, by, target), []).append(result)
    return results


async def run(world: World) -> ScenarioResult:
    plan = world.plan
    policy = world.policy
    bases = _bases(world)
    _warm(world, bases)
    results = await _measure(world, bases)
    rows = [_policy_row(policy)]
    data: dict[str, Any] = {
        "policy": policy.as_dict(),
        "connections": plan.manifest_connections,
        "preload_seconds": plan.manifest_preload_seconds,
        "variants": {},
    }
    for method, by in _VARIANTS:
        summaries = {target: _stats(results[method, by, target]) for target in _TARGETS}
        rows.append(_row(method, by, summaries))
        data["variants"][f"{method} {by}"] = {
            target: {
                "tool": s["tool"],
                "rps": s["rps"].as_dict(),
                "p99_ms": s["p99_ms"].as_dict(),
                "errors": s["errors"],
                "runs": [r.as_dict() for r in results[method, by, target]],
            }
            for target, s in summaries.items()
        }
    return ScenarioResult(rows, data)
