"""Prometheus metrics, owned by the application rather than by the module.

A fresh `CollectorRegistry` per application keeps tests (which build many apps in one
process) from sharing counters, and keeps module state immutable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from proxy.upstream import CircuitState, CircuitStatus

__all__ = ["Metrics"]

CircuitReader = Callable[[], Mapping[str, CircuitStatus]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "pullgate_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "pullgate_http_request_duration_seconds",
            "Time to answer (headers and body)",
            ["route"],
            registry=r,
        )
        self.cache_hits = Counter(
            "pullgate_cache_hits", "Requests served from the cache", ["kind"], registry=r
        )
        self.cache_misses = Counter(
            "pullgate_cache_misses", "Requests that needed the upstream", ["kind"], registry=r
        )
        self.upstream_bytes = Counter(
            "pullgate_upstream_bytes", "Body bytes received from upstreams", ["upstream"], registry=r
        )
        self.client_bytes = Counter(
            "pullgate_client_bytes", "Body bytes sent to clients", ["kind"], registry=r
        )
        self.upstream_errors = Counter(
            "pullgate_upstream_errors", "Failed upstream requests by kind", ["upstream", "kind"], registry=r
        )
        self.inflight_fetches = Gauge(
            "pullgate_inflight_fetches", "Upstream blob fetches under way", registry=r
        )
        self.digest_mismatches = Counter(
            "pullgate_digest_mismatches",
            "Upstream content that did not match its digest",
            ["upstream"],
            registry=r,
        )
        self.stale_tags = Counter(
            "pullgate_stale_tags_served", "Tags served stale after an upstream failure", registry=r
        )
        self.evicted_bytes = Counter("pullgate_evicted_bytes", "Bytes removed by cache eviction", registry=r)
        self.decisions = Counter(
            "pullgate_decisions", "Gate decisions made (not reused)", ["outcome"], registry=r
        )
        self.denials = Counter("pullgate_denials", "Requests refused by the gate", ["kind"], registry=r)
        self.cache_bytes = Gauge("pullgate_cache_bytes", "Bytes held in the content store", registry=r)
        self.auth_failures = Counter(
            "pullgate_auth_failures",
            "Failed authentications by surface (pull, token, admin)",
            ["surface"],
            registry=r,
        )
        self.auth_limited = Counter(
            "pullgate_auth_rate_limited",
            "Requests refused (429) after too many failures",
            ["surface"],
            registry=r,
        )
        self.open_connections = Gauge("pullgate_open_connections", "Client connections open", registry=r)
        self.listener_refusals = Counter(
            "pullgate_listener_refusals",
            "Connections or requests the listener refused before any handler ran",
            ["reason"],
            registry=r,
        )
        self.client_aborts = Counter(
            "pullgate_client_aborts",
            "Responses cut short because the client went away",
            ["route"],
            registry=r,
        )
        self.storage_write_errors = Counter(
            "pullgate_storage_write_errors",
            "Blobs the store could not take (served uncached), by cause: enospc, edquot, eio, backend...",
            ["reason"],
            registry=r,
        )

    def watch_circuits(self, read: CircuitReader) -> None:
        """Export every upstream's circuit breaker, read from `read` at each scrape."""
        self.registry.register(_CircuitCollector(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CircuitCollector:
    """Circuit-breaker state, read when scraped (the breakers own it; no copy to keep in step)."""

    def __init__(self, read: CircuitReader) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []  # names are fixed; registering must not call `read` before upstreams exist

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "pullgate_upstream_circuit_state",
            "1 for the state each upstream's circuit breaker is in (open: requests fail at once)",
            labels=["upstream", "state"],
        )
        held = GaugeMetricFamily(
            "pullgate_upstream_hold_seconds",
            "Seconds left of a pause an upstream asked for with Retry-After",
            labels=["upstream"],
        )
        opened = CounterMetricFamily(
            "pullgate_upstream_circuit_opened", "Times an upstream's circuit opened", labels=["upstream"]
        )
        rejected = CounterMetricFamily(
            "pullgate_upstream_short_circuited",
            "Requests answered without asking the upstream (open circuit or Retry-After pause)",
            labels=["upstream"],
        )
        for name, status in self._read().items():
            for candidate in CircuitState:
                state.add_metric([name, candidate.value], 1.0 if status.state is candidate else 0.0)
            held.add_metric([name], status.held_for or 0.0)
            opened.add_metric([name], status.opened)
            rejected.add_metric([name], status.rejected)
        yield from (state, held, opened, rejected)
