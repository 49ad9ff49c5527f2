"""The machinery around the gate: upstreams and their health, the content cache and purges.

A purge never removes content that is being served or filled (the blob cache's busy set);
asking to purge exactly such a digest is refused as busy, and a size purge skips it, as
the evictor always does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from db.admin_queries import AdminQueries, ObjectTotals
from db.queries import MetadataStore
from proxy.cache.eviction import Evictor
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.service import Gate
from proxy.metrics import Metrics
from proxy.oci.digest import Digest
from proxy.settings import UpstreamSettings
from proxy.upstream import CircuitState, CircuitStatus

__all__ = ["CacheStats", "CircuitReport", "Purged", "SystemAdmin", "UpstreamStatus"]


@dataclass(frozen=True, slots=True)
class CircuitReport:
    state: str
    consecutive_failures: int
    retry_in_seconds: float | None
    held_for_seconds: float | None
    opened: int
    rejected: int
    last_error: str | None

    @classmethod
    def of(cls, status: CircuitStatus | None) -> CircuitReport:
        if status is None:  # an upstream the mirror does not know: nothing to report
            return cls(CircuitState.CLOSED.value, 0, None, None, 0, 0, None)
        return cls(
            status.state.value,
            status.consecutive_failures,
            _rounded(status.retry_in),
            _rounded(status.held_for),
            status.opened,
            status.rejected,
            status.last_error,
        )


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    name: str
    url: str
    default: bool
    aliases: tuple[str, ...]
    healthy: bool
    error: str | None
    latency_ms: float
    circuit: CircuitReport


@dataclass(frozen=True, slots=True)
class CacheStats:
    stored_bytes: int
    max_bytes: int | None  # None: unbounded
    objects: dict[str, ObjectTotals]  # by kind: blob, manifest
    hits: dict[str, float]  # by kind, since this replica started
    misses: dict[str, float]
    evicted_bytes: float


@dataclass(frozen=True, slots=True)
class Purged:
    freed_bytes: int
    stored_bytes: int  # after the purge


class SystemAdmin:
    def __init__(
        self,
        *,
        gate: Gate,
        queries: AdminQueries,
        meta: MetadataStore,
        evictor: Evictor,
        metrics: Metrics,
        upstreams: Sequence[UpstreamSettings],
        max_bytes: int | None,
        actions: ActionLog,
    ) -> None:
        self._gate = gate
        self._queries = queries
        self._meta = meta
        self._evictor = evictor
        self._metrics = metrics
        self._upstreams = tuple(upstreams)
        self._max_bytes = max_bytes
        self._actions = actions

    async def upstreams(self) -> list[UpstreamStatus]:
        health = await self._gate.mirror.upstream_health()
        return [_status(upstream, health.get(upstream.name, {})) for upstream in self._upstreams]

    async def cache(self) -> CacheStats:
        return CacheStats(
            stored_bytes=await self._meta.total_stored_bytes(),
            max_bytes=self._max_bytes,
            objects=await self._queries.object_totals(),
            hits=_by_kind(self._metrics.cache_hits),
            misses=_by_kind(self._metrics.cache_misses),
            evicted_bytes=sum(_by_kind(self._metrics.evicted_bytes).values()),
        )

    async def purge_to(self, actor: Actor, target_bytes: int) -> Purged:
        """Evict least recently used content until at most `target_bytes` are stored."""
        freed = await self._evictor.evict(budget=target_bytes)
        stored = await self._meta.total_stored_bytes()
        await self._actions.record(actor, "cache.purge", target_bytes=target_bytes, freed_bytes=freed)
        return Purged(freed, stored)

    async def purge_digest(self, actor: Actor, digest: Digest) -> Purged:
        """Remove one object (a manifest also from every repository's records and tags)."""
        stored = await self._queries.stored_object(str(digest))
        if stored is None:
            raise not_found(f"stored object {digest}")
        # The evictor's own removal (busy check, metadata, in-memory shortcuts, then the file),
        # so a purge leaves the cache exactly as eviction would.
        if not await self._evictor.remove(digest):
            raise AdminError(AdminErrorKind.BUSY, f"{digest} is being served or fetched; try again later")
        self._metrics.evicted_bytes.inc(stored.size)
        self._gate.forget(digest)
        await self._actions.record(
            actor, "cache.purge", digest=str(digest), kind=stored.kind, freed_bytes=stored.size
        )
        return Purged(stored.size, await self._meta.total_stored_bytes())


def _status(upstream: UpstreamSettings, health: dict[str, Any]) -> UpstreamStatus:
    return UpstreamStatus(
        name=upstream.name,
        url=upstream.url,
        default=upstream.default,
        aliases=upstream.aliases,
        healthy=bool(health.get("healthy", False)),
        error=None if health.get("error") is None else str(health["error"]),
        latency_ms=float(health.get("latency_ms", 0.0)),
        circuit=CircuitReport.of(health.get("circuit")),
    )


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _by_kind(counter: Any) -> dict[str, float]:
    """A Prometheus counter's totals by its `kind` label (or one total under "all")."""
    return {
        sample.labels.get("kind", "all"): float(sample.value)
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
