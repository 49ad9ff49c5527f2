"""Blobs: served from the store when cached, otherwise fetched once and streamed while verified.

A blob is served for a repository only when that repository is known to hold it: a cached
manifest of the repository references it, or the upstream confirms it for that repository.
Content being in the store (fetched for another repository) is not enough: that would let
one repository's readers obtain another's blobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from db.errors import database_unavailable
from db.queries import MetadataStore
from proxy.cache.access import AccessTracker
from proxy.cache.damage import damaged
from proxy.cache.fill_copy import copy_blob, storage_failed
from proxy.cache.fill_errors import database_unavailable_error, fill_failure
from proxy.cache.fill_lease import FillLease, FillLeases
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Fill, FillState, SpoolGoneError
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.storage import BlobStore, Upload
from proxy.storage.base import PresigningStore
from proxy.upstream import UpstreamError, UpstreamRegistry, to_registry_error

__all__ = ["BlobCache", "BlobSource"]

log = logging.getLogger(__name__)


@dataclass
class BlobSource:
    """Where a blob's bytes come from for one response. `release()` when done."""

    digest: Digest
    size: int | None
    local_path: Path | None
    fill: Fill | None
    _cache: BlobCache = field(repr=False)
    _reader: object = field(default=None, repr=False)  # its place among the fill's readers

    def __post_init__(self) -> None:
        if self.fill is not None:
            self._reader = self.fill.reserve()

    async def stream(self, offset: int = 0, end: int | None = None) -> AsyncGenerator[bytes, None]:
        """Bytes [offset, end). From a fill they arrive as the upstream sends them."""
        if self.fill is not None and self.fill.state is not FillState.COMMITTED:
            try:
                async for chunk in self.fill.follow(offset, end=end, reader=self._reader):
                    yield chunk
                return
            except SpoolGoneError:
                pass  # committed between our look and our open: read the store
        length = None if end is None else end - offset
        async for chunk in self._cache.store.read(self.digest, offset, length):
            yield chunk

    async def settle(self) -> None:
        """Wait for a fill to commit, then read from the store like any cached blob."""
        if self.fill is not None:
            self.fill.release(self._reader)  # it will not follow: keep nothing in memory for it
            await self.fill.finished()
            if self.fill.state is FillState.PASSED:
                raise RegistryError(
                    ErrorCode.UNAVAILABLE,
                    f"{self.digest} could not be stored (storage failed); retry without a Range header",
                    headers={"Retry-After": "10"},
                )
            self.size = self.fill.written
            self.fill = None
            self.local_path = self._cache.store.local_path(self.digest)

    def release(self) -> None:
        if self.fill is not None:
            self.fill.release(self._reader)
        self._cache.release(self.digest)

    async def redirect_url(self) -> str | None:
        """Where the client may fetch the verified blob itself, when redirects are enabled.

        Only committed content is ever redirected to: a blob still arriving is streamed, so
        nothing unverified is reachable at the store.
        """
        if self.fill is not None:
            return None
        return await self._cache.redirect_url(self.digest)


class BlobCache:
    def __init__(
        self,
        *,
        store: BlobStore,
        meta: MetadataStore,
        upstreams: Mapping[str, UpstreamRegistry],
        repositories: RepositoryIds,
        access: AccessTracker,
        metrics: Metrics,
        redirect_seconds: float | None = None,
    ) -> None:
        self.store = store
        # Set: verified blobs are served by redirecting the client to the object store.
        self._redirect_seconds = redirect_seconds
        self._meta = meta
        self._upstreams = upstreams
        self._repositories = repositories
        self._access = access
        self._metrics = metrics
        self._fills: dict[str, Fill] = {}
        # Decides which replica runs a fill; the in-process single-flight above is unchanged.
        self._leases = FillLeases(meta)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_use: Counter[str] = Counter()
        self._known: LRU[tuple[RepoKey, Digest], int] = LRU(100_000)  # (repo, blob) -> size, confirmed

    # -- serving ------------------------------------------------------------------------
    async def open(self, key: RepoKey, digest: Digest, *, fetch: bool = True) -> BlobSource:
        """A source for the blob; with fetch=False (HEAD) a miss is answered without filling."""
        self._in_use[str(digest)] += 1
        try:
            return await self._open(key, digest, fetch)
        except Exception as exc:
            self.release(digest)
            if database_unavailable(exc):
                raise database_unavailable_error(digest, exc) from exc
            raise
        except BaseException:
            self.release(digest)
            raise

    async def _open(self, key: RepoKey, digest: Digest, fetch: bool) -> BlobSource:
        fill = self._joinable_fill(digest)
        if fill is not None:
            await fill.started()
            return BlobSource(digest, fill.size, None, fill, self)
        size = await self.store.stat(digest)
        if size is not None and await damaged(
            self.store, self._meta, digest, size, await self._confirm(key, digest)
        ):
            size = None  # removed: fetched again below, like any miss
        if size is not None:
            self._metrics.cache_hits.labels("blob").inc()
            self._access.touch(str(digest))
            return BlobSource(digest, size, self.store.local_path(digest), None, self)
        if not fetch:
            return BlobSource(digest, await self._confirm(key, digest), None, None, self)
        self._metrics.cache_misses.labels("blob").inc()
        # Looked up again: another request may have started the fill while we awaited stat().
        fill = self._joinable_fill(digest) or self._start_fill(key, digest)
        await fill.started()
        return BlobSource(digest, fill.size, None, fill, self)

    def _joinable_fill(self, digest: Digest) -> Fill | None:
        fill = self._fills.get(str(digest))
        # A fill that lost its storage keeps only a window of recent bytes in memory, which
        # a newcomer starting at byte 0 cannot use: it gets a fill (and a fetch) of its own.
        return fill if fill is not None and fill.window is None else None

    async def _confirm(self, key: RepoKey, digest: Digest) -> int:
        """The blob's size, once the repository is known to hold it (else BLOB_UNKNOWN)."""
        known = self._known.get((key, digest))
        if known is not None:
            return known
        size = await self._meta.blob_size_in_repository(await self._repositories.get(key), str(digest))
        if size is None:
            try:
                size = await self._upstreams[key.upstream].head_blob(key.name, digest)
            except UpstreamError as exc:
                self._metrics.upstream_errors.labels(key.upstream, exc.kind.name).inc()
                raise to_registry_error(exc, "blob") from exc
            if size is None:
                raise RegistryError(
                    ErrorCode.UPSTREAM_ERROR, f"upstream {key.upstream} gave no size for {digest}"
                )
        self._known.put((key, digest), size)
        return size

    def release(self, digest: Digest) -> None:
        name = str(digest)
        self._in_use[name] -= 1
        if self._in_use[name] <= 0:
            del self._in_use[name]

    async def redirect_url(self, digest: Digest) -> str | None:
        if self._redirect_seconds is None or not isinstance(self.store, PresigningStore):
            return None
        return await self.store.presigned_url(digest, self._redirect_seconds)

    def busy(self) -> set[str]:
        """Digests being served or filled right now: eviction must leave them alone."""
        return set(self._in_use) | set(self._fills)

    def forget(self, digest: Digest) -> None:
        self._known.discard_where(lambda k: k[1] == digest)

    # -- filling ------------------------------------------------------------------------
    def _start_fill(self, key: RepoKey, digest: Digest) -> Fill:
        fill = Fill(str(digest))
        self._fills[fill.key] = fill
        # The fill belongs to no request: a client that goes away does not abort it.
        task = asyncio.create_task(self._run_fill(fill, key, digest), name=f"fill {digest}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fill

    async def _run_fill(self, fill: Fill, key: RepoKey, digest: Digest) -> None:
        self._metrics.inflight_fetches.inc()
        uploads: list[Upload] = []
        failure: BaseException | None = None
        lease: FillLease | None = None
        try:
            # Only the replica holding the lease fetches; the others wait for its commit.
            claim = await self._leases.claim(digest, self.store.stat)
            lease = claim.lease
            if claim.stored_size is not None:
                # Another replica stored it, maybe for another repository: confirm ours has it.
                await self._confirm(key, digest)
                self._access.touch(str(digest))
                fill.commit(claim.stored_size)  # followers read the store, as on a hit
                return
            await self._fetch(fill, key, digest, uploads)
        except asyncio.CancelledError:
            failure = RegistryError(ErrorCode.UNAVAILABLE, "pullgate is shutting down")
            raise
        except Exception as exc:
            failure = fill_failure(self._metrics, exc, key, digest)
        finally:
            if failure is not None:
                # The spool file goes before anyone hears of the failure: nothing half-written stays.
                for upload in uploads:
                    await upload.abort()
                fill.fail(failure)
            fill.close()
            if lease is not None:  # after commit: a waiting replica then finds the blob stored
                await lease.release()
            if self._fills.get(fill.key) is fill:
                del self._fills[fill.key]
            self._metrics.inflight_fetches.dec()

    async def _fetch(self, fill: Fill, key: RepoKey, digest: Digest, uploads: list[Upload]) -> None:
        """Stream the blob from upstream to the fill's followers, verified; store it if storage allows."""
        repository_id = await self._repositories.get(key)
        declared = await self._meta.blob_size_in_repository(repository_id, str(digest))
        upstream = key.upstream
        async with self._upstreams[upstream].open_blob(key.name, digest) as stream:
            size = stream.size if stream.size is not None else declared
            copied = await copy_blob(
                store=self.store,
                fill=fill,
                stream=stream,
                digest=digest,
                size=size,
                uploads=uploads,
                counted=self._metrics.upstream_bytes.labels(upstream).inc,
                trouble=lambda exc, in_file: storage_failed(self._metrics, exc, digest, size, in_file),
                wanted=lambda: self._in_use[str(digest)] > 0,
            )
        self._known.put((key, digest), copied.size)
        if not copied.stored:
            fill.passed()
            return
        await self._meta.record_object(str(digest), copied.size, "blob", datetime.now(UTC))
        fill.commit(copied.size)

    async def idle(self) -> None:
        """Wait until the fills under way have ended: their clients may have every verified
        byte before the content is durable and published (`Fill.verify`)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._leases.close()
