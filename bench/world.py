"""The benchmark world: upstream, images, the counting relay, nginx, and warm pullgate and peer.

Scenarios that need an empty cache start their own pullgate or peer (fresh directories);
the long-lived pair here serves the warm scenarios (blob throughput, manifests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cleanup import Cleanup
from bench.content import BenchImage, build_image_files, push_bench_image
from bench.plan import Plan
from bench.policy_hook import PolicyLoad, prepare_database
from bench.services import Nginx, PullgateProcess, start_nginx, start_peer, start_pullgate, start_upstream
from tests.support.images import Image, build_image, random_layer
from tests.support.push import push_image
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay

__all__ = ["SMALL_REPO", "SMALL_TAG", "World", "build_world"]

SMALL_REPO, SMALL_TAG = "library/small", "1"
# The herd image's layers, as shares of its size: several blobs fetched at once, like real images.
_HERD_SHARES = (0.5, 0.25, 0.15, 0.1)


@dataclass
class World:
    plan: Plan
    work: Path
    cleanup: Cleanup
    upstream: RunningRegistry
    relay: Relay
    small: Image  # a small OCI image for the manifest scenario
    big: BenchImage  # one layer of plan.blob_bytes
    policy: PolicyLoad  # the policy (and database template) every pullgate starts with
    pullgate_source: Path | None = None  # exported packages to run instead of the working tree
    pullgate_overrides: dict[str, Any] = field(default_factory=dict)  # settings from --pullgate-set
    _lazy: dict[str, BenchImage] = field(default_factory=dict)
    _nginx: Nginx | None = None
    _pullgate: PullgateProcess | None = None
    _peer: RunningRegistry | None = None

    async def image(self, kind: str) -> BenchImage:
        """The herd image or the memory image, built and pushed on first use."""
        if kind not in self._lazy:
            if kind == "herd":
                sizes = [int(self.plan.herd_bytes * share) for share in _HERD_SHARES]
                image = build_image_files(self.work / "images", "library/herd", "1", sizes)
            elif kind == "huge":
                image = build_image_files(
                    self.work / "images", "library/huge", "1", [self.plan.memory_blob_bytes]
                )
            else:
                raise KeyError(kind)
            await push_bench_image(self.upstream.url, image)
            _drop_layer_files(image)
            self._lazy[kind] = image
        return self._lazy[kind]

    def upstream_blob_file(self, digest: str) -> Path:
        """Where the upstream registry keeps a blob's bytes (distribution's filesystem layout)."""
        hex_digest = digest.removeprefix("sha256:")
        return (
            self.upstream.root_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
        )

    def start_pullgate(self, upstream_url: str, name: str) -> PullgateProcess:
        """A pullgate with an empty data directory ``work/name``."""
        return start_pullgate(
            self.work,
            upstream_url,
            self.cleanup,
            name=name,
            source=self.pullgate_source,
            database=self.policy.database_template,
            overrides=self.pullgate_overrides,
        )

    @property
    def nginx(self) -> Nginx:
        if self._nginx is None:
            blob = self.upstream_blob_file(self.big.layers[0].digest)
            self._nginx = start_nginx(self.work, {"blob": blob}, self.cleanup)
        return self._nginx

    @property
    def pullgate(self) -> PullgateProcess:
        """The long-lived pullgate, straight at the upstream; warmed by the scenarios using it."""
        if self._pullgate is None:
            self._pullgate = self.start_pullgate(self.upstream.url, "pullgate-warm")
        return self._pullgate

    @property
    def peer(self) -> RunningRegistry:
        if self._peer is None:
            self._peer = start_peer(self.work, self.upstream.url, self.cleanup, name="peer-warm")
        return self._peer


def _drop_layer_files(image: BenchImage) -> None:
    """The upstream holds the bytes now; the local copies only took disk space."""
    for layer in image.layers:
        layer.path.unlink(missing_ok=True)


async def build_world(
    plan: Plan,
    work: Path,
    cleanup: Cleanup,
    pullgate_source: Path | None = None,
    pullgate_overrides: dict[str, Any] | None = None,
) -> World:
    upstream = start_upstream(work, cleanup)
    small = build_image([random_layer(4096)])
    await push_image(upstream.url, SMALL_REPO, small, SMALL_TAG)
    big = build_image_files(work / "images", "library/big", "1", [plan.blob_bytes])
    await push_bench_image(upstream.url, big)
    _drop_layer_files(big)
    relay = Relay(upstream.url).start()
    cleanup.push("relay", relay.stop)
    policy = prepare_database(work, plan.policy_rules, pullgate_source)
    return World(
        plan=plan,
        work=work,
        cleanup=cleanup,
        upstream=upstream,
        relay=relay,
        small=small,
        big=big,
        policy=policy,
        pullgate_source=pullgate_source,
        pullgate_overrides=pullgate_overrides or {},
    )
