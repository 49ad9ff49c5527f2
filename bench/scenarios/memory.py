"""Scenario 5: pullgate's peak memory while a herd pulls an image with one very large blob.

A fresh pullgate behind the counting relay; its peak RSS (the kernel's VmHWM, reset to the
idle RSS just before the herd) must stay within 200 MB. RSS is also sampled every 20 ms as a
cross-check for kernels that refuse the reset.
"""

from __future__ import annotations

from bench.measure import RssSampler, reset_peak_rss, rss_kib
from bench.pulls import herd_pull
from bench.report import Check, Row
from bench.scenarios.base import ScenarioResult
from bench.scenarios.herd import count_upstream
from bench.world import World

__all__ = ["run"]

_TARGET_MB = 200.0


async def run(world: World) -> ScenarioResult:
    image = await world.image("huge")
    clients = world.plan.herd_clients
    pullgate = world.start_pullgate(world.relay.url, "memory-pullgate")
    try:
        idle_kib = rss_kib(pullgate.pid) or 0
        reset = reset_peak_rss(pullgate.pid)
        world.relay.log.clear()
        with RssSampler(pullgate.pid) as sampler:
            herd = await herd_pull(pullgate.url, image, clients)
        counts = count_upstream(world.relay, image)
    finally:
        pullgate.stop()
    peak_kib = sampler.hwm_kib if reset and sampler.hwm_kib else sampler.peak_sampled_kib
    peak_mb, idle_mb = peak_kib / 1024, idle_kib / 1024
    blob_mb = world.plan.memory_blob_bytes // 1_000_000
    row = Row(
        scenario=f"5 memory: herd of {clients}, {blob_mb} MB blob",
        metric="peak RSS MiB",
        pullgate=f"{peak_mb:.0f} (idle {idle_mb:.0f})",
        checks=[
            Check(f"{peak_mb:.0f} MiB", f"<= {_TARGET_MB:g} MB", peak_mb <= _TARGET_MB),
            Check(f"{herd.correct}/{clients} correct", "all clients correct", herd.correct == clients),
            Check(f"{counts.max_gets} GET per blob", "exactly 1 each", counts.exactly_once),
        ],
        note=f"herd took {herd.seconds:.1f} s; peak from "
        + ("VmHWM (reset before the herd)" if reset else "20 ms VmRSS samples"),
    )
    data = {
        "blob_bytes": world.plan.memory_blob_bytes,
        "idle_rss_kib": idle_kib,
        "peak_rss_kib": peak_kib,
        "vmhwm_kib": sampler.hwm_kib,
        "vmhwm_reset": reset,
        "peak_sampled_kib": sampler.peak_sampled_kib,
        "samples": len(sampler.samples),
        "herd": herd.as_dict(),
        "upstream": counts.as_dict(),
    }
    return ScenarioResult([row], data)
