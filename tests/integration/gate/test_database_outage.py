"""The database goes away while pullgate serves: it fails closed, loses no audit record, and
recovers by itself when the database is back.

PostgreSQL is reached through a TCP forwarder the test controls (real protocol bytes, cut on
command: refused, reset, or silent). SQLite's files are made immutable (``chattr +i``), so
its writes fail with EPERM on the open files as on a read-only remount, while reads still
work. For each: what the client sees, what /readyz says, what is kept (the audit records of
the refused pulls), and that the next pull after recovery works without a restart.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from db.models import AuditEvent
from db.session import create_engine, session_factory
from tests.support.http import http_get
from tests.support.images import Image, ImageFactory
from tests.support.proc import ToolError, require_tool
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.tcpforward import TcpForwarder

# Decisions live long enough to outlast the outage; the policy is re-read often, so the
# outage is noticed at once; a short database timeout keeps the stalled case quick.
SETTINGS: dict[str, Any] = {
    "gate": {"decision_cache_ttl": 300, "policy_refresh_interval": 0.2, "audit_flush_interval": 0.05},
    "database": {"timeout": 1},
}
RECOVERY = 40.0  # seconds: a safety net for "recovers by itself" (the audit writer backs off
# up to 30 s between tries), not a speed assertion


@dataclass
class Images:
    known: Image  # pulled (manifest and blobs) before the outage: its decision is cached
    unknown: Image  # never pulled: deciding it needs the database


async def _pull(pullgate: Pullgate, tag: str) -> tuple[int, dict[str, str], bytes]:
    return await http_get(f"{pullgate.url}/v2/library/demo/manifests/{tag}", Accept=MANIFEST_ACCEPT)


async def _blob(pullgate: Pullgate, digest: str) -> int:
    return (await http_get(f"{pullgate.url}/v2/library/demo/blobs/{digest}"))[0]


async def _world(
    upstream: Upstream, make_pullgate: MakePullgate, database_url: str | None, durability: str = "ack"
) -> tuple[Pullgate, Images]:
    registry, factory, push_to = upstream
    images = Images(factory.image(), factory.image())
    await push_to(registry, "library/demo", images.known, "known")
    await push_to(registry, "library/demo", images.unknown, "unknown")
    settings = {**SETTINGS, "gate": {**SETTINGS["gate"], "audit_durability": durability}}
    pullgate = await make_pullgate([upstream_entry(registry)], database_url=database_url, **settings)
    assert (await _pull(pullgate, "known"))[0] == 200
    for digest in images.known.all_blobs:
        assert await _blob(pullgate, digest) == 200
    await pullgate.fills_done()  # cached and recorded before the database goes away
    return pullgate, images


Upstream = tuple[RunningRegistry, ImageFactory, Callable[..., Any]]


@pytest.fixture
def upstream(upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to) -> Upstream:
    return upstream_registry, image_factory, push_to


async def _while_down(
    pullgate: Pullgate, images: Images, database_error: str, durability: str = "ack"
) -> str:
    """What clients see while the database is unusable; returns the denial's decision id."""
    status, _, body = await _pull(pullgate, "unknown")
    error = json.loads(body)["errors"][0]
    assert status == 403 and error["code"] == "DENIED", body
    assert "could not decide: the database is unavailable" in error["message"]
    assert database_error in error["message"]
    decision_id: str = error["detail"]["decision_id"]
    assert decision_id in error["message"]
    # Blobs of an image nobody allowed are not served, by digest or otherwise.
    for digest in images.unknown.all_blobs:
        assert await _blob(pullgate, digest) == 403
    status, _, body = await _pull(pullgate, "known")
    if durability == "async":
        # A decision made before the outage stands for the rest of its lifetime.
        assert status == 200 and body == images.known.manifest_bytes
    else:
        # With ack durability a pull is served only once it is audited: not now.
        error = json.loads(body)["errors"][0]
        assert status == 403 and error["code"] == "DENIED", body
        assert "its audit record cannot be written (the database is unavailable)" in error["message"]
    # Its blobs were allowed by that decision: serving them writes no audit record.
    assert await _blob(pullgate, images.known.layer_digests[0]) == 200
    status, _, body = await http_get(f"{pullgate.url}/readyz")
    assert status == 503 and json.loads(body)["checks"]["database"].startswith("failed"), body
    return decision_id


async def _recovers(pullgate: Pullgate, images: Images) -> None:
    """No restart: the next pulls work within a bounded time, and readiness comes back."""
    async with asyncio.timeout(RECOVERY):
        while (await _pull(pullgate, "unknown"))[0] != 200:
            await asyncio.sleep(0.1)
    for digest in images.unknown.all_blobs:
        assert await _blob(pullgate, digest) == 200
    assert (await http_get(f"{pullgate.url}/readyz"))[0] == 200


async def _audited(database_url: str, decision_id: str) -> list[AuditEvent]:
    """The audit records carrying `decision_id`, once the writer has caught up."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with asyncio.timeout(RECOVERY):
            while True:
                async with session_factory(engine)() as session:
                    rows = (
                        await session.scalars(select(AuditEvent).where(AuditEvent.decision_id == decision_id))
                    ).all()
                if rows:
                    return list(rows)
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("app_database", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("cut", "durability"), [("refuse", "ack"), ("drop", "ack"), ("stall", "ack"), ("refuse", "async")]
)
async def test_postgresql_cut_off_fails_closed_and_recovers(
    make_pullgate: MakePullgate, app_database: str, upstream: Upstream, cut: str, durability: str
) -> None:
    url = make_url(app_database)
    assert url.host is not None and url.port is not None
    with TcpForwarder(url.host, url.port) as forwarder:
        through = url.set(port=forwarder.port).render_as_string(hide_password=False)
        pullgate, images = await _world(upstream, make_pullgate, through, durability)
        getattr(forwarder, cut)()
        error = "TimeoutError" if cut == "stall" else "Error"
        decision_id = await _while_down(pullgate, images, error, durability)
        forwarder.restore()
        await _recovers(pullgate, images)
        # The refused pull was audited when the database came back (at the writer's next
        # retry), with the id the client saw.
        (record,) = await _audited(app_database, decision_id)
    assert (record.outcome, record.reference, record.digest) == ("deny", "unknown", None)
    assert "database is unavailable" in record.reasons[0]["message"]


@contextmanager
def _immutable(database: Path) -> Iterator[None]:
    """Make SQLite's database and WAL files immutable: writes fail (EPERM) even through the
    connections already open, as on a read-only remount. The -shm file is left alone: it
    is memory-mapped, and an immutable mapping kills the process with SIGBUS."""
    chattr = require_tool("chattr")
    files = [str(p) for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    done = subprocess.run([chattr, "+i", *files], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolError(f"chattr +i needs root on ext4/xfs/btrfs: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *files], check=True)


@pytest.mark.parametrize("app_database", ["sqlite"], indirect=True)
async def test_sqlite_that_cannot_be_written_fails_closed_and_recovers(
    make_pullgate: MakePullgate, app_database: str, upstream: Upstream
) -> None:
    pullgate, images = await _world(upstream, make_pullgate, None)
    database = make_url(app_database).database
    assert database is not None
    with _immutable(Path(database)):
        decision_id = await _while_down(pullgate, images, "OperationalError")
    await _recovers(pullgate, images)
    (record,) = await _audited(app_database, decision_id)
    assert record.outcome == "deny" and "database is unavailable" in record.reasons[0]["message"]
