"""Replicas decide alike: a policy changed on either is in force on the other within
`gate.policy_refresh_interval`, and every replica's pulls are in every replica's audit log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.integration.replicas.conftest import Admin, MakeReplicas
from tests.support.fixtures import PushTo
from tests.support.images import ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.replicas import Replica

pytestmark = pytest.mark.postgres

ALLOW = "default_action: allow\n"
DENY_TEAM_APP = "default_action: allow\nrules: [{id: no-app, match: {repository: team/app}, action: deny}]\n"
REFRESH = 0.2  # gate.policy_refresh_interval in the replicas' config
SLACK = 1.5  # a request's own time, the audit and decision caches' round trips on a busy machine


async def _status(replica: Replica, repository: str, tag: str) -> int:
    url = f"{replica.url}/v2/{repository}/manifests/{tag}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp,
    ):
        await resp.read()
        return resp.status


async def _answers_within(replica: Replica, status: int, seconds: float) -> float:
    """How long until `replica` answers `status` for team/app:1; fails after `seconds`."""
    started = time.monotonic()
    while (got := await _status(replica, "team/app", "1")) != status:
        assert time.monotonic() - started < seconds, f"replica {replica.name} still answers {got}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_rule_change_on_either_replica_holds_on_the_other(
    make_replicas: MakeReplicas,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    await push_to(upstream_registry, "team/app", image_factory.image(), "1")
    replicas = make_replicas()
    a, b = Admin(replicas[0], replicas.admin_token), Admin(replicas[1], replicas.admin_token)
    await a.put_policy(ALLOW)
    await _answers_within(replicas[1], 200, REFRESH + SLACK)  # B caches an allow under this version

    await a.put_policy(DENY_TEAM_APP)
    assert await _status(replicas[0], "team/app", "1") == 403, "the changing replica: at once"
    await _answers_within(replicas[1], 403, REFRESH + SLACK)

    await b.put_policy(ALLOW)
    assert await _status(replicas[1], "team/app", "1") == 200
    await _answers_within(replicas[0], 200, REFRESH + SLACK)


async def test_pulls_through_every_replica_are_in_every_replicas_audit(
    make_replicas: MakeReplicas,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    for repository in ("team/via-a", "team/via-b"):
        await push_to(upstream_registry, repository, image_factory.image(), "1")
    replicas = make_replicas()
    await Admin(replicas[0], replicas.admin_token).put_policy(ALLOW)
    await asyncio.sleep(REFRESH + 0.1)  # B must not decide by the embedded deny-all default
    assert await _status(replicas[0], "team/via-a", "1") == 200
    assert await _status(replicas[1], "team/via-b", "1") == 200
    for replica in replicas.replicas:
        admin = Admin(replica, replicas.admin_token)
        deadline = time.monotonic() + 5
        while True:  # audit records are written in batches, every audit_flush_interval
            items = (await admin.get("/audit", kind="pull", limit="100")).json["items"]
            seen = {(item["repository"], item["outcome"]) for item in items}
            if {("team/via-a", "allow"), ("team/via-b", "allow")} <= seen:
                break
            assert time.monotonic() < deadline, f"replica {replica.name}'s audit: {items}"
            await asyncio.sleep(0.05)
