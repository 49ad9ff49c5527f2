"""The soak's world: an upstream registry with images, a vulnerability database, a policy, and
a real ``pullgate serve`` process with scanning on, all on loopback in one temp directory.

Images carry this machine's own dpkg database (as the scanning tests do), so every first
pull is scanned by the built-in scanner and every database update re-matches real
inventories. The policy allows ``library/soak-*`` and ``library/flip``, denies
``library/denied-*`` and lets a vulnerability policy cover all of them, so one run exercises
every part of a decision.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.cleanup import Cleanup
from bench.rescan_throughput import host_packages, records
from bench.services import PullgateProcess, start_pullgate, start_upstream
from tests.support.images import Image, build_image, file_layer, random_layer
from tests.support.proc import tool_env
from tests.support.push import push_image
from tests.support.registry import RunningRegistry

__all__ = ["SoakImage", "SoakWorld", "build_soak_world", "import_vulndb"]

POLICY = """
default_action: deny
rules:
  - {id: soak-images, match: {repository: "library/soak-*"}, action: allow, description: soak}
  - {id: soak-flip, match: {repository: "library/flip"}, action: allow, description: flipped by the churn}
  - {id: soak-denied, match: {repository: "library/denied-*"}, action: deny, description: must never be served}
vulnerability_policies:
  - {id: soak-vulns, match: {repository: "library/**"}, max_severity: critical, unscanned: allow}
"""
_LAYER_SIZES = (64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024)


@dataclass(frozen=True)
class SoakImage:
    repo: str
    tag: str
    image: Image
    expect: tuple[int, ...]  # statuses the policy may answer for it

    def as_plan(self) -> dict[str, Any]:
        blobs = [self.image.config_digest, *self.image.layer_digests]
        return {
            "repo": self.repo,
            "tag": self.tag,
            "digest": self.image.digest,
            "blobs": blobs,
            "expect_any": list(self.expect),
        }


@dataclass
class SoakWorld:
    work: Path
    upstream: RunningRegistry
    pullgate: PullgateProcess
    images: list[SoakImage]
    token: str
    config_path: Path

    @property
    def admin(self) -> str:
        return f"{self.pullgate.url}/api/v1"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _dpkg_files() -> dict[str, bytes]:
    files = {"var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes()}
    for name in ("etc/os-release", "etc/debian_version"):
        path = Path("/") / name
        if path.is_file():
            files[name] = path.read_bytes()
    return files


def _images(count: int, rng: random.Random) -> list[SoakImage]:
    base = file_layer(_dpkg_files())  # one shared base layer: analysed once, like a real base image

    def image() -> Image:
        return build_image([base, random_layer(rng.choice(_LAYER_SIZES), seed=rng.getrandbits(32))])

    made = [SoakImage(f"library/soak-{n}", "v1", image(), (200,)) for n in range(count)]
    made += [SoakImage(f"library/denied-{n}", "v1", image(), (403,)) for n in range(2)]
    made.append(SoakImage("library/flip", "v1", image(), (200, 403)))
    return made


def _cli(*args: str, config: Path) -> str:
    binary = Path(sys.executable).parent / "pullgate"
    result = subprocess.run(
        [str(binary), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=tool_env(),
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pullgate {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout


def import_vulndb(world_dir: Path, config: Path, batch: int, count: int) -> None:
    """Write ``count`` OSV records for this machine's packages and import them (a new version)."""
    directory = world_dir / f"osv-{batch}"
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(batch)
    for record in records(host_packages(), count, rng, f"soak{batch}"):
        (directory / f"{record.id}.json").write_text(json.dumps(record.raw))
    _cli("vulndb", "import", str(directory), config=config)


async def build_soak_world(
    work: Path, cleanup: Cleanup, image_count: int, overrides: dict[str, Any]
) -> SoakWorld:
    upstream = start_upstream(work, cleanup)
    images = _images(image_count, random.Random(7))
    for soak in images:
        await push_image(upstream.url, soak.repo, soak.image, soak.tag)
    settings = {
        "scanning": {"enabled": True, "vulndb_check_interval": 10},
        "log": {"level": "warning", "access_log": False},
        **overrides,
    }
    pullgate = start_pullgate(work, upstream.url, cleanup, name="soak-pullgate", overrides=settings)
    config = pullgate.data_dir / "pullgate.yaml"
    import_vulndb(work, config, batch=0, count=300)
    token = (
        _cli("token", "create", "--role", "admin", "--name", "soak", config=config).strip().splitlines()[0]
    )
    world = SoakWorld(work, upstream, pullgate, images, token, config)
    async with aiohttp.ClientSession(headers=world.auth) as session:
        headers = {"Content-Type": "application/yaml"}
        async with session.put(f"{world.admin}/policy", data=POLICY, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"applying the soak policy failed: {response.status} {await response.text()}"
                )
    return world
