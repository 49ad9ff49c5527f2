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

from db.errors import database_unavailable, describe
from db.queries import MetadataStore
from proxy.cache.access import AccessTracker
from proxy.cache.fill_lease import FillLease, FillLeases
from proxy.cache.keys import RepoKey
from proxy.cache.lru import LRU
from proxy.cache.repositories import RepositoryIds
from proxy.cache.singleflight import Fill, FillState, SpoolGoneError
from proxy.metrics import Metrics
from proxy.oci.digest import Digest, DigestMismatchError
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.storage import BlobStore, Upload
from proxy.storage.base import PresigningStore
from proxy.upstream import UpstreamError, UpstreamRegistry, to_registry_error

__all__ = ["BlobCache", "BlobSource"]

log = logging.getLogger(__name__)

_FILL_CHUNK = 1024 * 1024  # upstream reads: large pieces, fewer wake-ups per megabyte


@dataclass
class BlobSource:
    """Where a blob's bytes come from for one response. `release()` when done."""

    digest: Digest
    size: int | None
    local_path: Path | None
    fill: Fill | None
    _cache: BlobCache = field(repr=False)

    async def stream(self, offset: int = 0, end: int | None = None) -> AsyncGenerator[bytes, None]:
        """Bytes [offset, end). From a fill they arrive as the upstream sends them."""
        if self.fill is not None and self.fill.state is not FillState.COMMITTED:
            try:
                async for chunk in self.fill.follow(offset, end=end):
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
            await self.fill.finished()
            self.size = self.fill.written
            self.fill = None
            self.local_path = self._cache.store.local_path(self.digest)

    def release(self) -> None:
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
                raise _database_unavailable(digest, exc) from exc
            raise
        except BaseException:
            self.release(digest)
            raise

    async def _open(self, key: RepoKey, digest: Digest, fetch: bool) -> BlobSource:
        fill = self._fills.get(str(digest))
        if fill is not None:
            await fill.started()
            return BlobSource(digest, fill.size, None, fill, self)
        size = await self.store.stat(digest)
        if size is not None:
            await self._confirm(key, digest)
            self._metrics.cache_hits.labels("blob").inc()
            self._access.touch(str(digest))
            return BlobSource(digest, size, self.store.local_path(digest), None, self)
        if not fetch:
            return BlobSource(digest, await self._confirm(key, digest), None, None, self)
        self._metrics.cache_misses.labels("blob").inc()
        # Looked up again: another request may have started the fill while we awaited stat().
        fill = self._fills.get(str(digest)) or self._start_fill(key, digest)
        await fill.started()
        return BlobSource(digest, fill.size, None, fill, self)

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
            size = await self._copy(fill, key, digest, uploads)
            await self._meta.record_object(str(digest), size, "blob", datetime.now(UTC))
            self._known.put((key, digest), size)
            fill.commit(size)
        except RegistryError as exc:  # the repository does not hold the blob another replica stored
            failure = exc
        except DigestMismatchError as exc:
            self._metrics.digest_mismatches.labels(key.upstream).inc()
            log.error(
                "possible cache poisoning: upstream %s sent %s for %s: %s", key.upstream, digest, key, exc
            )
            message = f"upstream {key.upstream} sent content that does not match {digest}"
            failure = RegistryError(ErrorCode.UPSTREAM_ERROR, message)
        except UpstreamError as exc:
            self._metrics.upstream_errors.labels(key.upstream, exc.kind.name).inc()
            failure = to_registry_error(exc, "blob")
        except asyncio.CancelledError:
            failure = RegistryError(ErrorCode.UNAVAILABLE, "pullgate is shutting down")
            raise
        except Exception as exc:
            if database_unavailable(exc):  # before any upstream request: the lease comes first
                log.error("fill of %s for %s: the database is unavailable (%s)", digest, key, exc)
                failure = _database_unavailable(digest, exc)
            else:
                log.exception("fill of %s for %s failed", digest, key)
                failure = exc
        finally:
            if failure is not None:
                # The spool file goes before anyone hears of the failure: nothing half-written stays.
                for upload in uploads:
                    await upload.abort()
                fill.fail(failure)
            if lease is not None:  # after commit: a waiting replica then finds the blob stored
                await lease.release()
            self._fills.pop(fill.key, None)
            self._metrics.inflight_fetches.dec()

    async def _copy(self, fill: Fill, key: RepoKey, digest: Digest, uploads: list[Upload]) -> int:
        """Stream the blob from upstream into a spool file, verify it and commit it; its size."""
        repository_id = await self._repositories.get(key)
        declared = await self._meta.blob_size_in_repository(repository_id, str(digest))
        async with self._upstreams[key.upstream].open_blob(key.name, digest) as stream:
            size = stream.size if stream.size is not None else declared
            upload = await self.store.new_upload(expected=digest)
            uploads.append(upload)
            fill.begin(upload.path, size)
            async for chunk in stream.chunks(_FILL_CHUNK):
                await upload.write(chunk)
                self._metrics.upstream_bytes.labels(key.upstream).inc(len(chunk))
                if size is not None and upload.size > size:
                    raise DigestMismatchError(digest, None, size, upload.size)
                fill.advance(upload.size)
            await upload.commit(digest, size)
        return upload.size

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._leases.close()


def _database_unavailable(digest: Digest, exc: Exception) -> RegistryError:
    """Allowed, but not servable now: whether the repository holds it, or who fetches it,
    is in the database. A 503 tells the client to come back, as it would for any outage."""
    return RegistryError(
        ErrorCode.UNAVAILABLE,
        f"pullgate cannot serve blob {digest} now: its database is unavailable ({describe(exc)}); retry later",
        headers={"Retry-After": "10"},
    )
