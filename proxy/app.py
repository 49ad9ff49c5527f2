"""Composition root: build the aiohttp application from `Settings`.

Everything with a lifetime (database engine, blob store, upstream sessions, background
workers) is created and closed in one `cleanup_ctx`, in dependency order, and reached by
handlers through the typed `SERVICES` key: there is no module-level state.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.admin_queries import AdminQueries
from db.audit_connection import AuditConnection
from db.image_queries import ImageQueries
from db.pull_keys import SigningKeyStore
from db.queries import MetadataStore
from db.session import create_engine, ping, read_only, session_factory
from db.stats_queries import StatsQueries
from proxy.api import admin as admin_api
from proxy.api import middlewares, ops, pull_auth, registry, token_endpoint, ui
from proxy.api.context import REQUEST_BODY_TIMEOUT, SERVICES, Services
from proxy.api.routing import Router
from proxy.api.scanner_registry import start_scanner_endpoint
from proxy.api.security_headers import admin_headers
from proxy.cache.access import AccessTracker
from proxy.cache.mirror import Mirror
from proxy.gate.admin import AdminService
from proxy.gate.audit import AuditWriter
from proxy.gate.auth.assembly import failure_limiter, pull_authentication, secret_hasher
from proxy.gate.credential_sync import CredentialSync
from proxy.gate.credentials import CredentialKeeper
from proxy.gate.policy_state import PolicyState
from proxy.gate.scans.assembly import Scanning, needs_endpoint, scanning
from proxy.gate.scans.grants import ScanGrants
from proxy.gate.service import Gate
from proxy.gate.signing.check import SignatureCheck
from proxy.gate.signing.discovery import SignatureFinder
from proxy.gate.stores import Stores
from proxy.metrics import Metrics
from proxy.mirror_assembly import blob_store, build_mirror
from proxy.settings import Settings
from proxy.upstream import UpstreamRegistry

__all__ = ["build_app"]

_AUDIT_DRAIN_TIMEOUT = 20.0  # on shutdown; what cannot be written by then goes to the log


def build_app(settings: Settings) -> web.Application:
    # The admin API's middlewares run inside the registry's error renderer: they answer every
    # /api/v1 request (errors included) themselves and pass everything else through.
    admin_middlewares = admin_api.MIDDLEWARES if settings.admin.enabled else ()
    pull_middlewares = (pull_auth.authenticate,) if settings.pull_auth.enabled else ()
    app = web.Application(
        middlewares=[middlewares.access_log, middlewares.errors, *pull_middlewares, *admin_middlewares],
        client_max_size=64 * 1024,
    )
    app.on_response_prepare.append(middlewares.stamp_request_id)
    app[REQUEST_BODY_TIMEOUT] = settings.server.request_body_timeout
    app.add_routes(ops.routes)
    app.add_routes(registry.routes)
    if settings.pull_auth.enabled:
        app.add_routes(token_endpoint.routes)
    if settings.admin.enabled:
        admin_api.setup(app)
        app.on_response_prepare.append(admin_headers())
    if settings.console_enabled:
        ui.setup(app)
    app.cleanup_ctx.append(lambda a: _lifetime(a, settings))
    if settings.server.gc_freeze:
        app.on_startup.append(_tune_gc)
    return app


async def _tune_gc(app: web.Application) -> None:
    # Start-up leaves tens of thousands of long-lived objects (modules, settings, the policy
    # engine); full collections kept walking them, pausing requests for up to 140 ms in the
    # benchmarks. Freeze them out of the collector and collect the young generation less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def _lifetime(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    engine = create_engine(settings.database.url, settings.database.pool_size, settings.database.timeout)
    store = blob_store(settings.storage)
    upstreams = {u.name: UpstreamRegistry(u, settings.upstream_client) for u in settings.upstreams}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        await store.open()
        stack.push_async_callback(store.close)
        for upstream in upstreams.values():
            await upstream.start()
            stack.push_async_callback(upstream.close)
        reads = session_factory(read_only(engine))
        meta = MetadataStore(session_factory(engine), reads)
        access = AccessTracker(meta, settings.cache.access_flush_interval)
        stack.push_async_callback(access.flush)  # a graceful stop keeps the last access times
        metrics = Metrics()
        metrics.watch_circuits(lambda: {name: u.circuit() for name, u in upstreams.items()})
        mirror, evictor = build_mirror(
            settings=settings, store=store, meta=meta, upstreams=upstreams, access=access, metrics=metrics
        )
        stack.push_async_callback(mirror.blobs.close)
        audit_connection = AuditConnection(engine)
        stack.push_async_callback(audit_connection.close)
        stores = Stores.over(session_factory(engine), reads, secret_hasher(settings.auth))
        ring = settings.secrets.key_ring()
        credentials = CredentialSync(stores.credentials, ring, upstreams, settings.secrets.refresh_interval)
        await credentials.start()  # refuses to serve with stored credentials it cannot open
        authenticator = None
        if settings.pull_auth.enabled:
            authenticator = await pull_authentication(
                settings.pull_auth, settings.auth, stores.robots, SigningKeyStore(session_factory(engine))
            )
        audit = AuditWriter(
            audit_connection.insert_events,
            queue_size=settings.gate.audit_queue_size,
            batch_size=settings.gate.audit_batch_size,
            flush_interval=settings.gate.audit_flush_interval,
            durability=settings.gate.audit_durability,
            ack_timeout=settings.gate.audit_ack_timeout,
        )
        scans = None
        if settings.scanning.enabled:
            scans = await _scanning(
                settings, mirror=mirror, stores=stores, engine=engine, reads=reads, stack=stack
            )
        gate = Gate(
            mirror=mirror,
            meta=meta,
            repositories=mirror.repositories,
            policy=PolicyState(
                stores.policies, settings.gate.policy_refresh_interval, stores.signing, stores.scans
            ),
            reviews=stores.quarantine,
            decisions=stores.decisions,
            audit=audit,
            metrics=metrics,
            settings=settings.gate,
            signatures=SignatureCheck(SignatureFinder(mirror, meta, mirror.repositories)),
            vulnerabilities=scans.check if scans else None,
            console=settings.decision_url_base,
        )
        stack.push_async_callback(gate.close)
        if scans is not None:
            scans.connect(gate, stores)
        app[SERVICES] = Services(
            gate=gate,
            router=Router(settings.upstreams),
            metrics=metrics,
            readiness={"database": lambda: ping(engine), "storage": store.ping},
            stores=stores,
            access_log=settings.log.access_log,
            evictor=evictor,
            pull_auth=authenticator,
            limiter=failure_limiter(settings.auth),  # per replica, in memory (docs/authentication.md)
            admin=AdminService(
                gate=gate,
                stores=stores,
                queries=AdminQueries(reads),
                stats=StatsQueries(reads),
                image_queries=ImageQueries(reads),
                meta=meta,
                evictor=evictor,
                metrics=metrics,
                upstreams=settings.upstreams,
                max_bytes=settings.cache.max_bytes,
                credentials=(CredentialKeeper(stores.credentials, ring, upstreams), credentials),
                scans=scans.service if scans else None,
                credential_cache_ttl=settings.auth.cache_ttl,
                robot_changed=authenticator.changed if authenticator else None,
            ),
        )
        # The audit writer stops last among the workers: it drains what the others queued.
        stack.push_async_callback(audit.close, _AUDIT_DRAIN_TIMEOUT)
        audit.start()
        if scans is not None:
            stack.push_async_callback(scans.close)  # before the audit writer: rescans audit
            scans.start()
        workers = (
            ("access-times", access.run()),
            ("eviction", evictor.run()),
            ("credentials", credentials.run()),
        )
        for name, worker in workers:
            stack.push_async_callback(_stop, asyncio.create_task(worker, name=name))
        yield


async def _scanning(
    settings: Settings,
    *,
    mirror: Mirror,
    stores: Stores,
    engine: AsyncEngine,
    reads: async_sessionmaker[AsyncSession],
    stack: contextlib.AsyncExitStack,
) -> Scanning:
    """The vulnerability gate; with Trivy or Harbor adapters, the endpoint they read from."""
    grants = url = http = None
    if needs_endpoint(settings.scanning):
        host, _, port = settings.scanning.endpoint.rpartition(":")
        grants = ScanGrants()
        runner, url = await start_scanner_endpoint(mirror, grants, host.strip("[]"), int(port))
        stack.push_async_callback(runner.cleanup)
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
    return scanning(
        settings.scanning,
        mirror=mirror,
        stores=stores,
        sessions=session_factory(engine),
        reads=reads,
        grants=grants,
        endpoint_url=url,
        http=http,
    )


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
