"""Repository ids, looked up once per process and then served from memory."""

from __future__ import annotations

from db.queries import MetadataStore
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU

__all__ = ["RepositoryIds"]


class RepositoryIds:
    def __init__(self, meta: MetadataStore, capacity: int = 10_000) -> None:
        self._meta = meta
        self._ids: LRU[RepoKey, int] = LRU(capacity)

    async def get(self, key: RepoKey) -> int:
        found = self._ids.get(key)
        if found is None:
            found = await self._meta.repository_id(key.upstream, str(key.name))
            assert found is not None  # created when missing
            self._ids.put(key, found)
        return found

    async def find(self, key: RepoKey) -> int | None:
        """The id without creating the repository (for read-only answers)."""
        found = self._ids.get(key)
        if found is None:
            found = await self._meta.repository_id(key.upstream, str(key.name), create=False)
            if found is not None:
                self._ids.put(key, found)
        return found
