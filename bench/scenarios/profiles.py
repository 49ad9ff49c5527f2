"""``--profile``: the loads pullgate is judged on, again, with py-spy attached.

Not part of the table: profiles explain the numbers. Loads: warm blob with many clients,
manifest GET by tag (wrk), a cold skopeo pull and a cold herd, each through a fresh pullgate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.loadgen import curl_parallel, wrk_get
from bench.profiling import ProfileSummary, profile_during
from bench.pulls import herd_pull, skopeo_pull
from bench.scenarios.blob import prime_manifest
from bench.scenarios.herd import fresh_proxy
from bench.world import SMALL_REPO, SMALL_TAG, World
from tests.support.push import MANIFEST_ACCEPT

__all__ = ["run"]


async def run(world: World, py_spy: str, out_dir: Path) -> list[ProfileSummary]:
    plan = world.plan
    pullgate = world.pullgate
    blob_url = f"{pullgate.url}/v2/{world.big.repo}/blobs/{world.big.layers[0].digest}"
    manifest_url = f"{pullgate.url}/v2/{SMALL_REPO}/manifests/{SMALL_TAG}"

    prime_manifest(pullgate.url, world.big)

    async def blobs() -> None:
        for _ in range(3):
            await curl_parallel(blob_url, plan.blob_parallel_clients)

    async def manifests() -> None:
        await wrk_get(
            manifest_url, MANIFEST_ACCEPT, plan.manifest_connections, max(plan.manifest_seconds, 5.0)
        )

    summaries = [
        await profile_during(py_spy, pullgate.pid, "warm-blob-parallel", out_dir, blobs),
        await profile_during(py_spy, pullgate.pid, "manifest-get-tag", out_dir, manifests),
    ]
    cold = world.start_pullgate(world.upstream.url, "profile-cold")
    try:

        async def cold_pull() -> Any:
            return await skopeo_pull(cold.host, world.big, world.work / "profile-skopeo-out")

        summaries.append(await profile_during(py_spy, cold.pid, "cold-pull", out_dir, cold_pull))
    finally:
        cold.stop()
    image = await world.image("herd")
    with fresh_proxy(world, "pullgate", "profile-herd") as (url, pid):
        assert pid is not None

        async def herd() -> Any:
            return await herd_pull(url, image, plan.herd_clients)

        summaries.append(await profile_during(py_spy, pid, "cold-herd", out_dir, herd))
    return summaries
