"""The cache layer built from settings: the blob store, and the mirror over it with its evictor.

Split from the composition root (`proxy.app`) so that it reads as wiring only; nothing here
outlives the objects it returns.
"""

from __future__ import annotations

from collections.abc import Mapping

from db.queries import MetadataStore
from proxy.cache.access import AccessTracker
from proxy.cache.blobs import BlobCache
from proxy.cache.eviction import Evictor
from proxy.cache.manifests import ManifestCache
from proxy.cache.mirror import Mirror
from proxy.cache.repositories import RepositoryIds
from proxy.cache.tags import TagResolver
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.settings import Settings
from proxy.storage import BlobStore
from proxy.storage.filesystem import FilesystemBlobStore
from proxy.storage.s3 import S3BlobStore
from proxy.storage.s3_client import S3Config
from proxy.storage_settings import StorageSettings
from proxy.upstream import UpstreamRegistry

__all__ = ["blob_store", "build_mirror"]


def blob_store(storage: StorageSettings) -> BlobStore:
    if storage.backend == "s3" and storage.s3 is not None:
        s3 = storage.s3
        return S3BlobStore(
            S3Config(
                bucket=s3.bucket,
                spool_dir=s3.spool_dir,
                endpoint_url=s3.endpoint_url,
                region=s3.region,
                prefix=s3.prefix,
                access_key_id=s3.access_key_id,
                secret_access_key=s3.secret(),
                addressing_style=s3.addressing_style,
                verify=False if s3.tls.insecure else (s3.tls.ca_file or True),
                connect_timeout=s3.connect_timeout,
                read_timeout=s3.read_timeout,
                max_attempts=s3.max_attempts,
                max_pool_connections=s3.max_pool_connections,
                part_size=s3.part_size,
                max_concurrent_parts=s3.max_concurrent_parts,
                create_bucket=s3.create_bucket,
                stale_upload_age=s3.stale_upload_age,
                stale_spool_age=storage.stale_spool_age,
            )
        )
    return FilesystemBlobStore(storage.path, stale_spool_age=storage.stale_spool_age)


def build_mirror(
    *,
    settings: Settings,
    store: BlobStore,
    meta: MetadataStore,
    upstreams: Mapping[str, UpstreamRegistry],
    access: AccessTracker,
    metrics: Metrics,
) -> tuple[Mirror, Evictor]:
    repositories = RepositoryIds(meta)
    manifests = ManifestCache(
        store=store,
        meta=meta,
        upstreams=upstreams,
        repositories=repositories,
        access=access,
        metrics=metrics,
        memory_bytes=settings.cache.memory_bytes,
    )
    tags = TagResolver(
        meta=meta,
        upstreams=upstreams,
        repositories=repositories,
        manifests=manifests,
        metrics=metrics,
        settings=settings.cache,
    )
    s3 = settings.storage.s3 if settings.storage.backend == "s3" else None
    blobs = BlobCache(
        store=store,
        meta=meta,
        upstreams=upstreams,
        repositories=repositories,
        access=access,
        metrics=metrics,
        redirect_seconds=s3.redirect_expiry if s3 is not None and s3.redirect else None,
    )

    def forget(digest: Digest) -> None:  # eviction removed it: drop the in-memory shortcuts too
        manifests.forget(digest)
        blobs.forget(digest)

    evictor = Evictor(
        store=store,
        meta=meta,
        metrics=metrics,
        max_bytes=settings.cache.max_bytes,
        interval=settings.cache.eviction_interval,
        busy=blobs.busy,
        forget=forget,
    )
    mirror = Mirror(
        manifests=manifests, tags=tags, blobs=blobs, meta=meta, upstreams=upstreams, repositories=repositories
    )
    return mirror, evictor
