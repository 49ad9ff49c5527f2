"""Manifests: served from memory or the store when cached, fetched once from upstream when not.

A manifest fetched by digest must hash to that digest; one fetched by tag must hash to the
digest the upstream announced for it. Anything else is refused and logged as a possible
poisoning: the bytes are never stored (DESIGN.md invariant 1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from db.queries import MetadataStore, NewManifest, RefRow
from proxy.cache.access import AccessTracker
from proxy.cache.fill_copy import storage_failed
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Coalescer
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.manifest import (
    MAX_MANIFEST_BYTES,
    InvalidManifestError,
    Manifest,
    ManifestLimitError,
    check_limits,
    parse_manifest,
)
from proxy.storage import BlobNotFoundError, BlobStore, StorageError
from proxy.upstream import UpstreamError, UpstreamRegistry, to_registry_error

__all__ = ["CachedManifest", "ManifestCache"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedManifest:
    digest: Digest
    media_type: str
    data: bytes
    manifest: Manifest


class ManifestCache:
    def __init__(
        self,
        *,
        store: BlobStore,
        meta: MetadataStore,
        upstreams: Mapping[str, UpstreamRegistry],
        repositories: RepositoryIds,
        access: AccessTracker,
        metrics: Metrics,
        memory_bytes: int,
    ) -> None:
        self._store = store
        self._meta = meta
        self._upstreams = upstreams
        self._repositories = repositories
        self._access = access
        self._metrics = metrics
        self._memory: LRU[tuple[RepoKey, Digest], CachedManifest] = LRU(memory_bytes, lambda m: len(m.data))
        self._fetches: Coalescer[tuple[RepoKey, str], CachedManifest] = Coalescer()

    async def by_digest(self, key: RepoKey, digest: Digest) -> CachedManifest:
        cached = self._memory.get((key, digest))
        if cached is None:
            cached = await self._load(key, digest)
        if cached is not None:
            self._metrics.cache_hits.labels("manifest").inc()
            self._access.touch(str(digest))
            return cached
        self._metrics.cache_misses.labels("manifest").inc()
        return await self.fetch(key, str(digest), expect=digest)

    async def _load(self, key: RepoKey, digest: Digest) -> CachedManifest | None:
        repository_id = await self._repositories.get(key)
        row = await self._meta.get_manifest(repository_id, str(digest))
        if row is None:
            return None
        try:
            data = await self._store.read_all(digest, MAX_MANIFEST_BYTES)
        except BlobNotFoundError:
            # Evicted, or never stored (the store was full when it arrived): fetch it again.
            log.info("manifest %s of %s is not in the store; refetching", digest, key)
            return None
        if not digest.matches(data):
            log.error("stored manifest %s of %s does not match its digest; refetching", digest, key)
            await self._store.delete(digest)
            return None
        cached = CachedManifest(digest, row.media_type, data, parse_manifest(data, row.media_type))
        self._memory.put((key, digest), cached)
        return cached

    async def fetch(self, key: RepoKey, reference: str, expect: Digest | None = None) -> CachedManifest:
        """Fetch from upstream (once, however many ask), verify, store and record."""
        return await self._fetches.run((key, reference), lambda: self._fetch(key, reference, expect))

    async def _fetch(self, key: RepoKey, reference: str, expect: Digest | None) -> CachedManifest:
        upstream = self._upstreams[key.upstream]
        try:
            fetched = await upstream.get_manifest(key.name, reference)
        except UpstreamError as exc:
            self._metrics.upstream_errors.labels(key.upstream, exc.kind.name).inc()
            raise to_registry_error(exc, "manifest") from exc
        self._metrics.upstream_bytes.labels(key.upstream).inc(len(fetched.data))
        announced = expect or fetched.digest
        digest = Digest.of(fetched.data, announced.algorithm if announced else "sha256")
        if announced is not None and digest != announced:
            self._poisoned(key, reference, announced, digest)
        try:
            manifest = parse_manifest(fetched.data, fetched.media_type)
            check_limits(manifest)
        except ManifestLimitError as exc:
            # Well-formed but more than pullgate serves: the client's request, not the upstream, failed.
            raise RegistryError(
                ErrorCode.MANIFEST_INVALID,
                f"{key}:{reference} from upstream {key.upstream} is refused: {exc}",
                detail={"field": exc.field, "count": exc.count, "limit": exc.limit},
            ) from exc
        except InvalidManifestError as exc:
            raise RegistryError(
                ErrorCode.UPSTREAM_ERROR,
                f"upstream {key.upstream} sent an invalid manifest for {key}:{reference}: {exc}",
            ) from exc
        stored = await self._store_bytes(digest, fetched.data)
        repository_id = await self._repositories.get(key)
        await self._meta.save_manifest(
            repository_id, _record(digest, fetched.data, manifest), datetime.now(UTC), stored=stored
        )
        cached = CachedManifest(digest, manifest.media_type, fetched.data, manifest)
        self._memory.put((key, digest), cached)
        return cached

    async def _store_bytes(self, digest: Digest, data: bytes) -> bool:
        """Store verified bytes; False when storage failed (served from memory, uncached)."""
        try:
            await self._store.put_bytes(digest, data)
        except StorageError as exc:
            storage_failed(self._metrics, exc, digest, len(data), 0)
            return False
        return True

    def _poisoned(self, key: RepoKey, reference: str, expected: Digest, actual: Digest) -> None:
        self._metrics.digest_mismatches.labels(key.upstream).inc()
        log.error(
            "possible cache poisoning: upstream %s sent a manifest for %s:%s that hashes to %s, not %s",
            key.upstream,
            key,
            reference,
            actual,
            expected,
        )
        raise RegistryError(
            ErrorCode.UPSTREAM_ERROR,
            f"upstream {key.upstream} sent a manifest for {key}:{reference} that does not match digest {expected}",
        )

    def forget(self, digest: Digest) -> None:
        """Drop a manifest from memory after eviction removed it from the store."""
        self._memory.discard_where(lambda k: k[1] == digest)


def _record(digest: Digest, data: bytes, manifest: Manifest) -> NewManifest:
    return NewManifest(
        digest=str(digest),
        media_type=manifest.media_type,
        size=len(data),
        artifact_type=manifest.artifact_type or (manifest.config.media_type if manifest.config else None),
        subject_digest=str(manifest.subject.digest) if manifest.subject else None,
        blobs=[RefRow(str(d.digest), d.media_type, d.size) for d in manifest.blobs],
        children=[
            RefRow(str(c.digest), c.media_type, c.size, str(c.platform) if c.platform else None)
            for c in manifest.children
        ],
    )
