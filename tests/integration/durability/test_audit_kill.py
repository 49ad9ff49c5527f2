"""kill -9 while the audit log is being written: no record of an answer a client received is lost.

"Acknowledged" for a gatekeeper: once a client has an answer based on a decision, that
decision's audit record is committed (`gate.audit_durability: ack`, the default). Many
clients pull at once (allowed and denied images) against a real `pullgate serve`; at a
random moment it is killed with SIGKILL, then restarted. Every decision id a client read in
a DENIED answer has at least as many pull records in the audit log as answers carried it,
and there are at least as many allowed pull records as clients got a manifest. A graceful
stop (SIGTERM) under the same load must leave the same guarantee.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import text

from db.session import create_engine
from tests.support.images import Image, ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.replicas import Replica, start_replicas

CLIENTS = 24
POLICY = """
default_action: deny
rules:
  - {id: allowed, match: {repository: "allowed/**"}, action: allow}
"""


@dataclass
class Seen:
    """What the clients were told."""

    served: int = 0
    denied: Counter[str] = field(default_factory=Counter)  # decision id -> DENIED answers with it
    cut: int = 0  # requests that got no answer (the process died under them)

    @property
    def answers(self) -> int:
        return self.served + sum(self.denied.values())


async def test_sigkill_during_audit_writes_loses_no_record_a_client_was_told(
    tmp_path: Path,
    database_url: str,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
) -> None:
    images = await _push_images(upstream_registry, image_factory, push_to)
    # A decision lives 50 ms: the load meets many decisions, not one per image.
    settings = {"gate": {"decision_cache_ttl": "0.05s"}}
    with start_replicas(
        tmp_path,
        database_url,
        upstream_registry,
        count=1,
        settings=settings,
        admin_token=False,
        policy=POLICY,
    ) as replicas:
        replica = replicas[0]
        killed = await _load(replica, images, stop_after=random.randint(150, 400), stop=replica.kill)
        assert killed.cut > 0, "the kill landed while requests were in flight"
        replica.restart()
        await _check_audited(database_url, killed)

        stopped = await _load(replica, images, stop_after=random.randint(150, 400), stop=replica.stop)
        assert replica.process.returncode == 0
        assert "audit record not written" not in replica.log_text()
        await _check_audited(database_url, killed, stopped)


async def _push_images(registry: RunningRegistry, factory: ImageFactory, push_to) -> dict[str, Image]:
    images = {f"{kind}/app{n}": factory.image(300) for kind in ("allowed", "denied") for n in range(3)}
    for repository, image in images.items():
        await push_to(registry, repository, image, "1")
    return images


async def _load(replica: Replica, images: dict[str, Image], *, stop_after: int, stop) -> Seen:
    """CLIENTS concurrent clients pulling manifests until `stop()` ends the process under them."""
    seen = Seen()
    stopping = asyncio.Event()

    async def client(session: aiohttp.ClientSession) -> None:
        while not stopping.is_set() or replica.process.poll() is None:
            repository = random.choice(list(images))
            try:
                await _pull(session, f"{replica.url}/v2/{repository}/manifests/1", seen)
            except (TimeoutError, aiohttp.ClientError):
                seen.cut += 1
                if replica.process.poll() is not None:
                    return
                await asyncio.sleep(0.01)  # stopping: the listener is closed, handlers drain
            if seen.answers >= stop_after and not stopping.is_set():
                stopping.set()
                await asyncio.to_thread(stop)  # SIGKILL (or SIGTERM and wait) while others pull on

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with asyncio.timeout(120):
            await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    assert seen.served > 0 and seen.denied, f"the load met both outcomes: {seen}"
    return seen


async def _pull(session: aiohttp.ClientSession, url: str, seen: Seen) -> None:
    async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as response:
        if response.status == 200:
            await response.read()
            seen.served += 1
        elif response.status == 403:
            error = (await response.json())["errors"][0]
            seen.denied[error["detail"]["decision_id"]] += 1
        else:
            raise AssertionError(f"unexpected answer {response.status}: {await response.text()}")


async def _check_audited(database_url: str, *rounds: Seen) -> None:
    """Read the audit log behind pullgate's back and compare it with what clients were told."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT decision_id, outcome FROM audit_events WHERE kind = 'pull'")
                )
            ).all()
    finally:
        await engine.dispose()
    audited = Counter(decision_id for decision_id, outcome in rows if outcome == "deny")
    told = sum((seen.denied for seen in rounds), Counter[str]())
    missing = {decision: n - audited[decision] for decision, n in told.items() if audited[decision] < n}
    assert not missing, f"denials a client received but the audit log lacks: {missing}"
    served = sum(seen.served for seen in rounds)
    allowed = sum(1 for _, outcome in rows if outcome == "allow")
    assert allowed >= served, f"{served} manifests served, only {allowed} allowed pulls audited"
