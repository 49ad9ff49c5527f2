"""What the followers of a failed fill are told, and what each cause leaves in the log and metrics.

A fill fails for one of a few reasons, each with its own weight for an operator: a digest
mismatch is a possible cache poisoning (an error line and a counter), an upstream failure is
counted per upstream and kind, a database outage means the blob cannot be served now (503),
and anything else is a bug (a traceback in the log). Clients only ever see the registry error.
"""

from __future__ import annotations

import logging

from db.errors import database_unavailable, describe
from proxy.cache.fill_copy import FillAbandonedError
from proxy.cache.keys import RepoKey
from proxy.metrics import Metrics
from proxy.oci.digest import Digest, DigestMismatchError
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.upstream import UpstreamError, to_registry_error

__all__ = ["database_unavailable_error", "fill_failure"]

log = logging.getLogger(__name__)


def fill_failure(metrics: Metrics, exc: Exception, key: RepoKey, digest: Digest) -> BaseException:
    """The error a failed fill hands its followers."""
    if isinstance(exc, RegistryError):  # the repository does not hold the blob another replica stored
        return exc
    if isinstance(exc, DigestMismatchError):
        metrics.digest_mismatches.labels(key.upstream).inc()
        log.error("possible cache poisoning: upstream %s sent %s for %s: %s", key.upstream, digest, key, exc)
        message = f"upstream {key.upstream} sent content that does not match {digest}"
        return RegistryError(ErrorCode.UPSTREAM_ERROR, message)
    if isinstance(exc, UpstreamError):
        metrics.upstream_errors.labels(key.upstream, exc.kind.name).inc()
        return to_registry_error(exc, "blob")
    if isinstance(exc, FillAbandonedError):
        log.info("%s", exc)
        return exc
    if database_unavailable(exc):  # before any upstream request: the lease comes first
        log.error("fill of %s for %s: the database is unavailable (%s)", digest, key, exc)
        return database_unavailable_error(digest, exc)
    log.error("fill of %s for %s failed", digest, key, exc_info=exc)
    return exc


def database_unavailable_error(digest: Digest, exc: Exception) -> RegistryError:
    """Allowed, but not servable now: whether the repository holds it, or who fetches it,
    is in the database. A 503 tells the client to come back, as it would for any outage."""
    return RegistryError(
        ErrorCode.UNAVAILABLE,
        f"pullgate cannot serve blob {digest} now: its database is unavailable ({describe(exc)}); retry later",
        headers={"Retry-After": "10"},
    )
