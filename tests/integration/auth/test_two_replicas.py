"""Two pullgates on one PostgreSQL database, as replicas behind a load balancer: a token
issued by one is honoured by the other (one signing key, made by whichever started first),
and a robot revoked through one is refused by the other within
`pull_auth.revocation_check_interval`, its tokens and cached Basic verifications included."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from proxy.gate.admin import TokenRole
from proxy.gate.manage.actions import Actor
from tests.integration.auth.conftest import MakeAuthWorld, basic, bearer, call

pytestmark = pytest.mark.postgres

CHECK_INTERVAL = 0.2
SLACK = 2.0  # a request's own time on a busy machine


async def test_tokens_and_revocations_hold_on_every_replica(
    make_auth_world: MakeAuthWorld, postgresql_url: str
) -> None:
    settings = {"pull_auth": {"revocation_check_interval": CHECK_INTERVAL}, "database_url": postgresql_url}
    a = await make_auth_world(**settings)
    b = await make_auth_world(**settings)  # after a: an operator migrates once, then starts replicas
    await a.push("team/app", "1")
    secret = await a.robot("ci", "team/**")
    token = bearer(await a.token("repository:team/app:pull", authorization=basic("ci", secret)))
    manifest = "/v2/team/app/manifests/1"
    for replica in (a, b):
        assert (await call(replica.url(manifest), authorization=token)).status == 200
        assert (await call(replica.url(manifest), authorization=basic("ci", secret))).status == 200

    assert b.pullgate.services.admin is not None
    await b.pullgate.services.admin.robots.revoke(Actor("t", "ops", TokenRole.ADMIN), "ci")
    assert (await call(b.url(manifest), authorization=token)).status == 401  # at once where revoked
    started = time.monotonic()
    for authorization in (token, basic("ci", secret)):
        while (status := (await call(a.url(manifest), authorization=authorization)).status) != 401:
            assert time.monotonic() - started < CHECK_INTERVAL + SLACK, (
                f"the other replica still answers {status}"
            )
            await asyncio.sleep(0.02)
    refused = await call(a.url(manifest), authorization=token)
    assert "robot 'ci' was revoked" in json.loads(refused.body)["errors"][0]["message"]
