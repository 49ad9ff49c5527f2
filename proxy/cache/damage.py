"""Stored blobs damaged after they were verified, caught before they are served.

Content is hashed when it arrives, not on every read (cached blobs go out with sendfile),
so a file damaged on disk afterwards (cut short when the machine crashed before the disk
had it all, a failing disk, someone's tooling) must be caught another way. Its size is: it
costs nothing while it matches the size manifests declare, and only a mismatch asks the
metadata what size the verified content had. A same-size change (a flipped bit) goes
unnoticed here; clients verify every blob's digest themselves and refuse it, and manifests,
which pullgate itself decides on, are re-hashed whenever they are read from the store.
"""

from __future__ import annotations

import logging

from db.queries import MetadataStore
from proxy.oci.digest import Digest
from proxy.storage import BlobStore

__all__ = ["damaged"]

log = logging.getLogger(__name__)


async def damaged(store: BlobStore, meta: MetadataStore, digest: Digest, size: int, declared: int) -> bool:
    """True (and the file removed) when a stored blob is not the size it was stored with."""
    if size == declared:
        return False
    recorded = await meta.object_size(str(digest))
    if recorded is None or recorded == size:
        return False  # a manifest declares another size than the verified content has
    log.error(
        "stored blob %s is %d bytes but was stored with %d: damaged on disk; removing it, fetching again",
        digest,
        size,
        recorded,
    )
    await store.delete(digest)
    return True
