"""Size-bounded eviction, least recently used first.

Candidates come from the database in last-access order. A blob that a cached manifest
still references is never a candidate; evicting a manifest drops its references, so its
blobs become candidates in their own LRU turn. Anything being served or filled right now is
skipped. Scheduled passes run on one replica at a time (a PostgreSQL advisory lock, see
`MetadataStore.eviction_lock`); an admin purge runs at once. Metadata goes first, then the
file: a crash between the two leaves an orphan file (harmless, found by the store scan)
rather than metadata pointing at nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from db.queries import MetadataStore
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.storage import BlobStore

__all__ = ["Evictor"]

log = logging.getLogger(__name__)

_BATCH = 200


class Evictor:
    def __init__(
        self,
        *,
        store: BlobStore,
        meta: MetadataStore,
        metrics: Metrics,
        max_bytes: int | None,
        interval: float,
        busy: Callable[[], set[str]],
        forget: Callable[[Digest], None],
    ) -> None:
        self._store = store
        self._meta = meta
        self._metrics = metrics
        self._max_bytes = max_bytes
        self._interval = interval
        self._busy = busy
        self._forget = forget

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.scheduled_pass()
            except Exception:
                log.exception("eviction pass failed; will retry")

    async def scheduled_pass(self) -> int | None:
        """A periodic pass, run by one replica at a time; None when another one holds the lock.

        Replicas share the database and the store: two passes at once would each free the
        whole excess and together evict far more than needed (or trip over each other's
        deletes). The loser simply waits for its next interval.
        """
        async with self._meta.eviction_lock() as held:
            if not held:
                log.debug("eviction pass skipped: another replica is evicting")
                return None
            return await self.evict()

    async def evict(self, budget: int | None = None) -> int:
        """One pass: remove LRU objects until the store is within budget. Returns bytes freed.

        `budget` overrides `cache.max_bytes` for this pass (an admin purge asks for less).
        """
        limit = self._max_bytes if budget is None else budget
        total = await self._meta.total_stored_bytes()
        self._metrics.cache_bytes.set(total)
        if limit is None or total <= limit:
            return 0
        freed = 0
        while total - freed > limit:
            candidates = await self._meta.least_recently_used(_BATCH, skip=self._busy())
            if not candidates:
                log.warning(
                    "cache is over budget by %d bytes but nothing can be evicted",
                    total - freed - limit,
                )
                break
            for row in candidates:
                if total - freed <= limit:
                    break
                if row.digest in self._busy():
                    continue
                await self._remove(row.digest)
                freed += row.size
                if row.kind == "manifest":
                    break  # its blobs just became candidates: re-read the LRU order
        self._metrics.evicted_bytes.inc(freed)
        self._metrics.cache_bytes.set(total - freed)
        log.info("evicted %d bytes; cache now %d of %d bytes", freed, total - freed, limit)
        return freed

    async def remove(self, digest: Digest) -> bool:
        """Remove one object now (an admin purge); False when it is being served or filled."""
        if str(digest) in self._busy():
            return False
        await self._remove(str(digest))
        return True

    async def _remove(self, digest_text: str) -> None:
        digest = Digest.parse(digest_text)
        await self._meta.forget_object(digest_text)
        self._forget(digest)
        await self._store.delete(digest)
