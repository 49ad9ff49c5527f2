"""Last-access bookkeeping for eviction, batched off the hot path.

A cache hit must not cost a database write, so hits only note the time in memory; a
background task writes the batch every `access_flush_interval` seconds and on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from db.queries import MetadataStore

__all__ = ["AccessTracker"]

log = logging.getLogger(__name__)


class AccessTracker:
    def __init__(self, meta: MetadataStore, interval: float) -> None:
        self._meta = meta
        self._interval = interval
        self._pending: dict[str, datetime] = {}

    def touch(self, digest: str) -> None:
        self._pending[digest] = datetime.now(UTC)

    async def flush(self) -> None:
        batch, self._pending = self._pending, {}
        try:
            await self._meta.touch_objects(batch)
        except Exception:
            # Losing access times only makes eviction slightly less precise; keep them for next time.
            log.exception("could not record last-access times; will retry")
            for digest, at in batch.items():
                self._pending.setdefault(digest, at)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
