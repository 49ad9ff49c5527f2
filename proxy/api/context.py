"""Typed application keys: how handlers reach the services the composition root built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from proxy.api.routing import Router
from proxy.cache.eviction import Evictor
from proxy.gate.admin import AdminService
from proxy.gate.auth.limiter import FailureLimiter
from proxy.gate.auth.pull import PullAuth
from proxy.gate.service import Gate
from proxy.gate.stores import Stores
from proxy.metrics import Metrics

__all__ = [
    "ABORTED",
    "BYTES_KIND",
    "IDENTITY",
    "REQUEST_BODY_TIMEOUT",
    "REQUEST_ID",
    "ROUTE",
    "SERVICES",
    "UPSTREAM",
    "Services",
]


@dataclass(frozen=True)
class Services:
    gate: Gate
    router: Router
    metrics: Metrics
    # Readiness probes by name; each raises when its dependency cannot serve.
    readiness: dict[str, Callable[[], Awaitable[None]]]
    stores: Stores
    access_log: bool = True
    evictor: Evictor | None = None
    admin: AdminService | None = None  # the /api/v1 admin API's operations
    pull_auth: PullAuth | None = None  # None: anonymous pulls (pull_auth.enabled is false)
    limiter: FailureLimiter | None = None  # failed authentications per address, this replica


SERVICES = web.AppKey("services", Services)
# Seconds a handler waits for a request body to arrive whole (server.request_body_timeout).
REQUEST_BODY_TIMEOUT = web.AppKey("request_body_timeout", float)

# Per-request facts the handlers learn and the access log reports.
REQUEST_ID = web.RequestKey("request_id", str)
ROUTE = web.RequestKey("route", str)  # manifests, blobs, tags, referrers, ...
UPSTREAM = web.RequestKey("upstream", str)
BYTES_KIND = web.RequestKey("bytes_kind", str)  # what the body carried, for the byte counters
# The response was cut short: "server" on purpose (content failed its digest), "client" when
# the client went away before the last byte.
ABORTED = web.RequestKey("aborted", str)
IDENTITY = web.RequestKey("identity", str)  # who the caller authenticated as, if anyone
