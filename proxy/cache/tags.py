"""Tag resolution: tag -> digest with a TTL, HEAD revalidation and stale-if-error.

Within `tag_ttl` a tag resolves without any upstream request. After it, a HEAD asks the
upstream whether the tag still points where it did (HEAD requests do not count against
Docker Hub's pull quota); only a moved tag costs a GET. When the upstream fails or is
unreachable, the last known digest is served for up to `tag_max_stale` seconds with a
`Warning` header, so an upstream outage does not stop deployments of known images.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from db.queries import MetadataStore, TagRow
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.manifests import CachedManifest, ManifestCache
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Coalescer
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.reference import Tag
from proxy.settings import CacheSettings
from proxy.upstream import UpstreamError, UpstreamErrorKind, UpstreamRegistry, to_registry_error

__all__ = ["Resolution", "TagResolver"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resolution:
    digest: Digest
    warning: str | None = None  # set when the answer is stale
    manifest: CachedManifest | None = None  # set when resolving fetched it anyway


class TagResolver:
    def __init__(
        self,
        *,
        meta: MetadataStore,
        upstreams: Mapping[str, UpstreamRegistry],
        repositories: RepositoryIds,
        manifests: ManifestCache,
        metrics: Metrics,
        settings: CacheSettings,
    ) -> None:
        self._meta = meta
        self._upstreams = upstreams
        self._repositories = repositories
        self._manifests = manifests
        self._metrics = metrics
        self._ttl = timedelta(seconds=settings.tag_ttl)
        self._max_stale = timedelta(seconds=settings.tag_max_stale)
        self._forget_on_404 = settings.tag_forget_on_404
        self._fresh: LRU[tuple[RepoKey, Tag], TagRow] = LRU(50_000)
        self._revalidations: Coalescer[tuple[RepoKey, Tag], Resolution] = Coalescer()

    async def resolve(self, key: RepoKey, tag: Tag) -> Resolution:
        now = datetime.now(UTC)
        known = self._fresh.get((key, tag))
        if known is None or now - known.validated_at >= self._ttl:
            repository_id = await self._repositories.get(key)
            known = await self._meta.get_tag(repository_id, str(tag))
        if known is not None and now - known.validated_at < self._ttl:
            self._fresh.put((key, tag), known)
            return Resolution(Digest.parse(known.digest))
        return await self._revalidations.run((key, tag), lambda: self._revalidate(key, tag, known))

    async def _revalidate(self, key: RepoKey, tag: Tag, known: TagRow | None) -> Resolution:
        if known is None:
            return await self._fetch(key, tag)
        try:
            head = await self._upstreams[key.upstream].head_manifest(key.name, str(tag))
        except UpstreamError as exc:
            self._metrics.upstream_errors.labels(key.upstream, exc.kind.name).inc()
            return await self._on_failure(key, tag, known, exc)
        if head.digest is not None and str(head.digest) == known.digest:
            await self._remember(key, tag, known.digest)
            return Resolution(head.digest)
        return await self._fetch(key, tag)

    async def _fetch(self, key: RepoKey, tag: Tag) -> Resolution:
        manifest = await self._manifests.fetch(key, str(tag))
        await self._remember(key, tag, str(manifest.digest))
        return Resolution(manifest.digest, manifest=manifest)

    async def _remember(self, key: RepoKey, tag: Tag, digest: str) -> None:
        row = TagRow(digest, datetime.now(UTC))
        await self._meta.set_tag(await self._repositories.get(key), str(tag), digest, row.validated_at)
        self._fresh.put((key, tag), row)

    async def _on_failure(self, key: RepoKey, tag: Tag, known: TagRow, exc: UpstreamError) -> Resolution:
        if exc.kind is UpstreamErrorKind.NOT_FOUND and self._forget_on_404:
            await self._meta.delete_tag(await self._repositories.get(key), str(tag))
            self._fresh.pop((key, tag))
            raise RegistryError(
                ErrorCode.MANIFEST_UNKNOWN, f"tag {tag} of {key} no longer exists at upstream {key.upstream}"
            ) from exc
        age = datetime.now(UTC) - known.validated_at
        if exc.kind is UpstreamErrorKind.UNAUTHORIZED or age > self._max_stale:
            raise to_registry_error(exc, "manifest") from exc
        self._metrics.stale_tags.inc()
        log.warning(
            "serving stale tag %s:%s -> %s (confirmed %ds ago): %s",
            key,
            tag,
            known.digest,
            age.total_seconds(),
            exc,
        )
        warning = (
            f'110 pullgate "Response is Stale: upstream {key.upstream} failed ({exc.kind.name.lower()}); '
            f'tag confirmed {int(age.total_seconds())}s ago"'
        )
        return Resolution(Digest.parse(known.digest), warning=warning)
