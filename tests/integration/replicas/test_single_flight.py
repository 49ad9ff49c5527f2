"""Single-flight across replicas: a blob both replicas miss at once is fetched upstream once.

The replicas' upstream is a counting relay, so each test counts the upstream's blob GETs.
The relay holds every blob GET back for a moment before forwarding it: without that, the
first replica's fill could finish before the second replica even asked, and the test would
pass for the wrong reason (a plain cache hit) instead of proving the lease wait.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import upgrade
from db.queries import MetadataStore
from db.session import create_engine, session_factory
from proxy.cache.fill_lease import FillLeases
from proxy.oci.digest import Digest
from tests.integration.replicas.conftest import Admin
from tests.support.fixtures import PushTo
from tests.support.images import Image, ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay
from tests.support.replicas import Replica, ReplicaSet, start_replicas
from tests.support.s3 import RunningS3

pytestmark = pytest.mark.postgres

REPO = "team/big"
ALLOW = "default_action: allow\n"
REFRESH = 0.2  # gate.policy_refresh_interval in the replicas' config
HOLD_BACK = 0.5  # seconds the relay sits on each blob GET before forwarding it
LEASE_WAIT_LOG = "waiting for another replica's fill"


class SlowBlobRelay(Relay):
    """A `Relay` that delays blob GETs, so concurrent fills on two replicas surely overlap."""

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and "/blobs/" in request.path:
            await asyncio.sleep(HOLD_BACK)
        return await super()._forward(request)


@pytest.fixture
def slow_relay(upstream_registry: RunningRegistry) -> Iterator[SlowBlobRelay]:
    with SlowBlobRelay(upstream_registry.url) as relay:
        yield relay


@pytest.fixture(params=["filesystem", "s3"])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, postgresql_url: str, slow_relay: SlowBlobRelay
) -> Iterator[ReplicaSet]:
    """Two replicas on one database, sharing a directory or (as in production) one S3 bucket."""
    settings: dict[str, Any] = {"log": {"level": "debug"}}
    if request.param == "s3":
        s3: RunningS3 = request.getfixturevalue("s3_server")
        settings["storage"] = {
            "backend": "s3",
            "s3": {
                "bucket": s3.bucket,
                "endpoint_url": s3.endpoint_url,
                "access_key_id": s3.access_key_id,
                "secret_access_key": s3.secret_access_key,
                "spool_dir": str(tmp_path / "spool"),
            },
        }
    # start_replicas reads only `url` and `host` of the upstream, which the relay has too.
    upstream = cast(RunningRegistry, slow_relay)
    with start_replicas(tmp_path / "replicas", postgresql_url, upstream, settings=settings) as started:
        yield started


async def _allow_and_cache_manifest(replicas: ReplicaSet, image: Image) -> None:
    """Allow everything and pull the manifest through each replica (blobs follow an allowed image)."""
    await Admin(replicas[0], replicas.admin_token).put_policy(ALLOW)
    await asyncio.sleep(REFRESH + 0.3)  # B must not decide by the embedded deny-all default
    async with aiohttp.ClientSession() as session:
        for replica in replicas.replicas:
            url = f"{replica.url}/v2/{REPO}/manifests/1"
            async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
                assert resp.status == 200, await resp.text()
                assert resp.headers["Docker-Content-Digest"] == image.digest


async def _get_blob(replica: Replica, digest: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{replica.url}/v2/{REPO}/blobs/{digest}") as resp,
    ):
        assert resp.status == 200, await resp.text()
        assert resp.headers["Docker-Content-Digest"] == digest
        return await resp.read()


def _assert_blob(body: bytes, digest: str, expected: bytes) -> None:
    assert len(body) == len(expected)
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest


async def test_both_replicas_missing_a_blob_at_once_fetch_it_upstream_once(
    replicas: ReplicaSet, slow_relay: SlowBlobRelay, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image(12 * 1024 * 1024, layers=2)
    await push_to(slow_relay.url, REPO, image, "1")
    await _allow_and_cache_manifest(replicas, image)

    # Every blob, three clients per replica, all at the same moment.
    digests = [*image.layer_digests, image.config_digest]
    requests = [(replica, d) for d in digests for replica in replicas.replicas for _ in range(3)]
    bodies = await asyncio.wait_for(asyncio.gather(*(_get_blob(r, d) for r, d in requests)), 60)

    for (_, digest), body in zip(requests, bodies, strict=True):
        _assert_blob(body, digest, image.all_blobs[digest])
    # Pushed through the relay too, so only GETs count; each blob was fetched exactly once.
    assert {d: slow_relay.count("GET", f"/blobs/{d}") for d in digests} == dict.fromkeys(digests, 1)
    waits = sum(replica.log_text().count(LEASE_WAIT_LOG) for replica in replicas.replicas)
    assert waits == len(digests), "the other replica waited for each fill instead of fetching"


async def test_a_dead_lease_holder_is_taken_over(
    replicas: ReplicaSet,
    slow_relay: SlowBlobRelay,
    postgresql_url: str,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    image = image_factory.image(4 * 1024 * 1024)
    await push_to(slow_relay.url, REPO, image, "1")
    await _allow_and_cache_manifest(replicas, image)
    digest = image.layer_digests[0]

    # A "replica" that takes the fill lease and dies: its own connection, closed mid-fill.
    engine = create_async_engine(postgresql_url, poolclass=NullPool)
    try:
        async with engine.connect() as holder:
            query = text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))")
            assert (await holder.execute(query.bindparams(name=digest))).scalar_one()
            pull = asyncio.create_task(_get_blob(replicas[0], digest))
            await asyncio.sleep(1.5)
            assert not pull.done(), "replica A must wait while the lease is held"
            assert slow_relay.count("GET", f"/blobs/{digest}") == 0
        # The connection is closed: PostgreSQL released the lock, as for a dead replica.
    finally:
        await engine.dispose()

    body = await asyncio.wait_for(pull, 30)
    _assert_blob(body, digest, image.all_blobs[digest])
    assert slow_relay.count("GET", f"/blobs/{digest}") == 1
    assert LEASE_WAIT_LOG in replicas[0].log_text()


# -- the leases on their own, without replica processes ---------------------------------
LEASED = Digest.parse("sha256:" + "ab" * 32)


async def _not_stored(_digest: Digest) -> int | None:
    return None


@pytest.fixture
async def two_replicas(postgresql_url: str) -> AsyncIterator[list[FillLeases]]:
    """The fill leases of two replicas: two pools, two lease connections, one database."""
    await asyncio.to_thread(upgrade, postgresql_url)  # it runs its own event loop
    engines = [create_engine(postgresql_url, 2) for _ in range(2)]
    metas = [MetadataStore(session_factory(e)) for e in engines]
    # The second replica gives up quickly, so the bounded-wait test is short.
    leases = [FillLeases(metas[0], wait_timeout=5), FillLeases(metas[1], wait_timeout=2)]
    try:
        yield leases
    finally:
        for lease, engine in zip(leases, engines, strict=True):
            await lease.close()
            await engine.dispose()


async def test_a_waiter_serves_what_the_holder_stored(two_replicas: list[FillLeases]) -> None:
    holder, waiter = two_replicas
    held = await holder.claim(LEASED, _not_stored)
    assert held.lease is not None and held.stored_size is None
    stored: list[int] = []

    async def stat(_digest: Digest) -> int | None:
        return stored[0] if stored else None

    waiting = asyncio.create_task(waiter.claim(LEASED, stat))
    await asyncio.sleep(0.3)
    assert not waiting.done() and waiter.waits == 1
    stored.append(42)  # the holder commits, then releases
    await held.lease.release()
    claim = await asyncio.wait_for(waiting, 5)
    assert claim.lease is None and claim.stored_size == 42


async def test_a_released_lease_without_the_blob_is_taken_over(two_replicas: list[FillLeases]) -> None:
    holder, waiter = two_replicas
    held = await holder.claim(LEASED, _not_stored)
    assert held.lease is not None
    waiting = asyncio.create_task(waiter.claim(LEASED, _not_stored))
    await asyncio.sleep(0.3)
    await holder.close()  # the holder's connection closes, as when its process dies
    claim = await asyncio.wait_for(waiting, 5)
    assert claim.lease is not None and claim.stored_size is None
    await claim.lease.release()


async def test_a_wait_is_bounded(two_replicas: list[FillLeases]) -> None:
    holder, waiter = two_replicas
    assert (await holder.claim(LEASED, _not_stored)).lease is not None
    claim = await asyncio.wait_for(waiter.claim(LEASED, _not_stored), 5)
    assert claim.lease is None and claim.stored_size is None  # fetch anyway, unleased
