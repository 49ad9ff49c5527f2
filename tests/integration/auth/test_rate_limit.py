"""Failed authentications are limited per client address, on /v2, the token endpoint and the
admin API alike; past the limit even good credentials get 429 until the bucket refills."""

from __future__ import annotations

import json
import time

from proxy.gate.auth import jwt
from tests.integration.auth.conftest import MakeAuthWorld, basic, bearer, call
from tests.support.pullgate import upstream_entry
from tests.support.registry import RunningRegistry

LIMIT = {"auth": {"rate_limit": {"max_failures": 3, "window": "300s"}}}


async def test_failures_then_429_per_address(
    make_auth_world: MakeAuthWorld, upstream_registry: RunningRegistry
) -> None:
    world = await make_auth_world(upstreams=[upstream_entry(upstream_registry)], **LIMIT)
    await world.push("team/app", "1")
    secret = await world.robot("ci", "team/**")
    good, bad = basic("ci", secret), basic("ci", "pgr_guess")
    _, admin_token = await world.pullgate.services.stores.tokens.create_token("ops", "admin")
    manifest = world.url("/v2/team/app/manifests/1")

    for _ in range(3):
        assert (await call(manifest, authorization=bad)).status == 401
    blocked = await call(manifest, authorization=good)  # right credentials, not even looked at
    assert blocked.status == 429 and blocked.error["code"] == "TOOMANYREQUESTS"
    assert 0 < int(blocked.headers["Retry-After"]) <= 100  # one failure refills in window / max_failures
    token = await call(
        world.url("/auth/token?service=pullgate&scope=repository:team/app:pull"), authorization=good
    )
    assert token.status == 429 and "Retry-After" in token.headers
    api = await call(world.url("/api/v1/rules"), authorization=bearer(admin_token))
    assert api.status == 429 and api.headers["Retry-After"]
    assert json.loads(api.body)["error"]["code"] == "too_many_requests"
    # Without credentials nothing is being guessed: the usual challenge.
    assert (await call(manifest)).status == 401

    # Another address is not affected.
    assert (await call(manifest, authorization=good, local_address="127.0.0.2")).status == 200
    assert (
        await call(world.url("/api/v1/rules"), authorization=bearer(admin_token), local_address="127.0.0.2")
    ).status == 200

    # Successes neither count nor refill: two failures, any number of successes, one more failure.
    for authorization in (bad, bad, good, good, good, good, bad):
        reply = await call(manifest, authorization=authorization, local_address="127.0.0.3")
        assert reply.status == (200 if authorization == good else 401)
    assert (await call(manifest, authorization=good, local_address="127.0.0.3")).status == 429
    # Admin API failures count in the same bucket.
    for _ in range(3):
        refused = await call(
            world.url("/api/v1/rules"), authorization="Bearer pgt_wrong", local_address="127.0.0.4"
        )
        assert refused.status == 401
    assert (await call(manifest, authorization=good, local_address="127.0.0.4")).status == 429
    metric = world.pullgate.metric
    assert await metric("pullgate_auth_failures", surface="pull") == 3 + 3
    assert await metric("pullgate_auth_failures", surface="admin") == 3
    assert await metric("pullgate_auth_rate_limited", surface="token") == 1
    assert await metric("pullgate_auth_rate_limited", surface="admin") == 1
    assert await metric("pullgate_auth_rate_limited", surface="pull") == 3


async def test_proven_but_stale_credentials_do_not_count(make_auth_world: MakeAuthWorld) -> None:
    # A node holding an expired token, or a revoked robot's secret, is not guessing.
    world = await make_auth_world(**LIMIT)
    await world.push("team/app", "1")
    secret = await world.robot("ci", "team/**")
    old = await world.robot("old", "team/**")
    key = await world.signing_key()
    now = int(time.time())
    expired = jwt.sign(
        {"iss": "pullgate", "aud": "pullgate", "exp": now - 5, "nbf": now - 60}, key.secret, key.kid
    )
    assert await world.pullgate.services.stores.robots.revoke("old") is not None
    manifest = world.url("/v2/team/app/manifests/1")
    for _ in range(5):
        assert (await call(manifest, authorization=bearer(expired))).status == 401
    for _ in range(5):
        assert (await call(manifest, authorization=basic("old", old))).status == 401
    assert (await call(manifest, authorization=basic("ci", secret))).status == 200
