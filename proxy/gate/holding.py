"""Quarantine holds: put an image on the review queue and, if asked, cache its blobs.

With `gate.quarantine_prefetch_blobs`, a quarantined image's blobs are fetched in the
background so that, once a reviewer releases it, it pulls at cache speed.
"""

from __future__ import annotations

import asyncio
import logging

from db.quarantine_queries import QuarantineStore
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.cache.mirror import Mirror
from proxy.gate.decision import Decision

__all__ = ["Holds"]

log = logging.getLogger(__name__)


class Holds:
    def __init__(self, *, mirror: Mirror, reviews: QuarantineStore, prefetch_blobs: bool) -> None:
        self._mirror = mirror
        self._reviews = reviews
        self._prefetch_blobs = prefetch_blobs
        self._prefetches: set[asyncio.Task[None]] = set()

    async def hold(self, key: RepoKey, manifest: CachedManifest, tag: str | None, decision: Decision) -> None:
        await self._reviews.hold(
            key.upstream,
            str(key.name),
            str(manifest.digest),
            reference=tag,
            decision_id=decision.id,
            rule_ids=decision.rule_ids,
        )
        if self._prefetch_blobs:
            task = asyncio.create_task(self._prefetch(key, manifest), name=f"prefetch {manifest.digest}")
            self._prefetches.add(task)
            task.add_done_callback(self._prefetches.discard)

    async def _prefetch(self, key: RepoKey, manifest: CachedManifest) -> None:
        for descriptor in manifest.manifest.blobs:
            try:
                source = await self._mirror.blob(key, descriptor.digest)
                try:
                    await source.settle()
                finally:
                    source.release()
            except Exception as exc:  # a reviewer can still release; the pull will fetch then
                log.warning("prefetch of %s for quarantined %s failed: %s", descriptor.digest, key, exc)

    async def close(self) -> None:
        for task in list(self._prefetches):
            task.cancel()
        await asyncio.gather(*self._prefetches, return_exceptions=True)
