"""The mirror service: what the registry API asks for, composed from the caches."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.queries import MetadataStore
from proxy.cache.blobs import BlobCache, BlobSource
from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest, ManifestCache
from proxy.cache.repositories import RepositoryIds
from proxy.cache.tags import TagResolver
from proxy.oci import mediatypes
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.reference import Tag
from proxy.upstream import UpstreamError, UpstreamErrorKind, UpstreamRegistry, to_registry_error

__all__ = ["Mirror", "ServedManifest", "TagList"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServedManifest:
    digest: Digest
    media_type: str
    data: bytes
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class TagList:
    tags: list[str]
    next_last: str | None
    warning: str | None = None


class Mirror:
    def __init__(
        self,
        *,
        manifests: ManifestCache,
        tags: TagResolver,
        blobs: BlobCache,
        meta: MetadataStore,
        upstreams: Mapping[str, UpstreamRegistry],
        repositories: RepositoryIds,
    ) -> None:
        self._manifests = manifests
        self._tags = tags
        self.blobs = blobs
        self._meta = meta
        self._upstreams = upstreams
        self.repositories = repositories

    async def manifest(self, key: RepoKey, reference: Tag | Digest) -> ServedManifest:
        warning = None
        if isinstance(reference, Tag):
            resolution = await self._tags.resolve(key, reference)
            warning = resolution.warning
            cached = resolution.manifest or await self._manifests.by_digest(key, resolution.digest)
        else:
            cached = await self._manifests.by_digest(key, reference)
        return ServedManifest(cached.digest, cached.media_type, cached.data, warning)

    async def upstream_health(self, probe_seconds: float = 5.0) -> dict[str, dict[str, object]]:
        """Ping every upstream at once: name -> {"url", "healthy", "error", "latency_ms",
        "circuit"} (the ping goes around the circuit breaker; "circuit" is its state)."""

        async def probe(name: str, upstream: UpstreamRegistry) -> tuple[str, dict[str, object]]:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(upstream.ping(), probe_seconds)
                error = None
            except (UpstreamError, TimeoutError) as exc:
                error = str(exc) or "timed out"
            latency = round((time.perf_counter() - started) * 1000, 1)
            return name, {
                "url": upstream.url,
                "healthy": error is None,
                "error": error,
                "latency_ms": latency,
                "circuit": upstream.circuit(),
            }

        results = await asyncio.gather(*(probe(n, u) for n, u in self._upstreams.items()))
        return dict(results)

    async def cached_manifest(self, key: RepoKey, digest: Digest) -> CachedManifest:
        """A manifest with its parsed form (from memory or the store; upstream only if evicted)."""
        return await self._manifests.by_digest(key, digest)

    async def blob(self, key: RepoKey, digest: Digest, *, fetch: bool = True) -> BlobSource:
        return await self.blobs.open(key, digest, fetch=fetch)

    async def tags(self, key: RepoKey, n: int | None, last: str | None) -> TagList:
        try:
            page = await self._upstreams[key.upstream].list_tags(key.name, n, last)
            # The OCI spec wants lexical order; distribution 2.8 lists unpaginated tags unordered.
            return TagList(sorted(page.tags), page.next_last)
        except UpstreamError as exc:
            if not exc.temporary and exc.kind is not UpstreamErrorKind.PROTOCOL:
                raise to_registry_error(exc, "tags") from exc
            return await self._cached_tags(key, n, last, exc)

    async def _cached_tags(
        self, key: RepoKey, n: int | None, last: str | None, exc: UpstreamError
    ) -> TagList:
        repository_id = await self.repositories.find(key)
        if repository_id is None:
            raise to_registry_error(exc, "tags") from exc
        # Ask for one more than the page to learn whether another page follows.
        tags = await self._meta.list_tags(repository_id, None if n is None else n + 1, last)
        following = n is not None and len(tags) > n
        tags = tags[:n] if n is not None else tags
        warning = f'110 pullgate "Response is Stale: upstream {key.upstream} failed; cached tags only"'
        log.warning("listing cached tags of %s: %s", key, exc)
        return TagList(tags, tags[-1] if following and tags else None, warning)

    async def referrers(self, key: RepoKey, subject: Digest, artifact_type: str | None) -> bytes:
        """An OCI index of the manifests whose subject is `subject` (OCI distribution 1.1)."""
        try:
            data = await self._upstreams[key.upstream].get_referrers(key.name, subject, artifact_type)
        except UpstreamError as exc:
            raise to_registry_error(exc, "referrers") from exc
        if data is None:
            data = await self._referrers_tag(key, subject)
        return _filtered_index(data, artifact_type, key)

    async def _referrers_tag(self, key: RepoKey, subject: Digest) -> bytes:
        """The referrers tag schema fallback: an index tagged ``<alg>-<hex>`` upstream."""
        try:
            return (await self._manifests.fetch(key, subject.tag_form)).data
        except RegistryError as exc:
            if exc.code is ErrorCode.MANIFEST_UNKNOWN:
                return b'{"manifests":[]}'
            raise


def _filtered_index(data: bytes, artifact_type: str | None, key: RepoKey) -> bytes:
    try:
        doc = json.loads(data)
        manifests = doc["manifests"]
        if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
            raise TypeError("manifests is not a list of descriptors")
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            ErrorCode.UPSTREAM_ERROR, f"upstream {key.upstream} sent an invalid referrers list for {key}"
        ) from exc
    if artifact_type is not None:
        manifests = [m for m in manifests if m.get("artifactType") == artifact_type]
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": manifests}
    return json.dumps(index, separators=(",", ":")).encode()
