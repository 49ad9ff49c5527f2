"""The registry token flow with pullgate as issuer, and every way a credential can be wrong."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from proxy.gate.admin import TokenRole
from proxy.gate.auth import jwt
from proxy.gate.manage.actions import Actor
from tests.integration.auth.conftest import MakeAuthWorld, Reply, basic, bearer, call

NO_LIMIT = {"auth": {"rate_limit": {"enabled": False}}}
ADMIN = Actor(token_id="t", name="tests", role=TokenRole.ADMIN)


async def _until(check: Any, timeout: float = 5.0) -> Reply:
    """Poll `check()` (a coroutine function returning a Reply or None) until it returns a reply."""
    deadline = time.monotonic() + timeout
    while True:
        reply = await check()
        if reply is not None or time.monotonic() > deadline:
            assert reply is not None, "the change was not seen in time"
            return reply  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


async def test_get_and_post_tokens_grant_the_intersection(
    make_auth_world: MakeAuthWorld, database_url: str
) -> None:
    world = await make_auth_world(database_url=database_url)
    image = await world.push("team/app", "1")
    await world.push("team/other", "1")
    await world.push("secret/x", "1")
    secret = await world.robot("ci", "team/**")
    url = world.url(
        "/auth/token?service=pullgate&scope=repository:team/app:pull&scope=repository:secret/x:pull"
    )
    got = await call(url, authorization=basic("ci", secret))
    assert got.status == 200 and got.headers["Cache-Control"] == "no-store"
    body = json.loads(got.body)
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    assert abs(datetime.fromisoformat(body["issued_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    token = bearer(body["token"])
    assert (await call(world.url("/v2/team/app/manifests/1"), authorization=token)).status == 200
    blob = world.url(f"/v2/team/app/blobs/{image.layer_digests[0]}")
    assert (await call(blob, authorization=token)).status == 200
    # The robot may pull team/other, but this token does not grant it: ask for another token.
    other = await call(world.url("/v2/team/other/manifests/1"), authorization=token)
    assert other.status == 401 and 'error="insufficient_scope"' in other.challenge
    assert 'scope="repository:team/other:pull"' in other.challenge
    # secret/x was asked for and not granted: the robot may never pull it.
    denied = await call(world.url("/v2/secret/x/manifests/1"), authorization=token)
    assert denied.status == 403 and "robot 'ci' may not pull" in denied.error["message"]

    form = {
        "grant_type": "password",
        "username": "ci",
        "password": secret,
        "service": "pullgate",
        "scope": "repository:team/other:pull repository:secret/x:pull",
        "client_id": "containerd-client",
    }
    posted = await call(world.url("/auth/token"), method="POST", data=form)
    assert posted.status == 200, posted.body
    oauth = json.loads(posted.body)
    assert oauth["scope"] == "repository:team/other:pull"
    assert oauth["access_token"] == oauth["token"]
    assert (
        await call(world.url("/v2/team/other/manifests/1"), authorization=bearer(oauth["access_token"]))
    ).status == 200
    pulls = await world.pulls("robot:ci", count=2)  # the manifests served; refusals never reach the gate
    assert {(p.repository, p.outcome) for p in pulls} == {("team/app", "allow"), ("team/other", "allow")}


async def test_malformed_and_wrong_credentials_are_refused(make_auth_world: MakeAuthWorld) -> None:
    world = await make_auth_world(**NO_LIMIT)
    await world.push("team/app", "1")
    secret = await world.robot("ci", "team/**")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    cases = {
        "Basic": "malformed Basic",
        "Basic !!!not-base64!!!": "not base64",
        "Basic " + b64(b"ci") + "=": "not base64",
        "Basic " + b64(b"no-colon"): "expected robot-name:secret",
        "Basic " + b64(b":" + secret.encode()): "expected robot-name:secret",
        "Basic " + b64(b"ci:"): "expected robot-name:secret",
        "Basic " + b64(b"ci:\xff\xfe"): "not base64 of UTF-8",
        "Basic " + b64(b"nobody:" + secret.encode()): "robot 'nobody' is unknown or the secret is wrong",
        "Basic " + b64(b"ci:pgr_wrong"): "robot 'ci' is unknown or the secret is wrong",
        "Bearer": "unsupported Authorization header",
        "Digest username=ci": "unsupported Authorization header",
        "Bearer not-a-jwt": "three dot-separated parts",
        "Bearer a.b.c": "not base64url",
        "Bearer " + ".".join([b64(b'{"alg":"HS256"}').rstrip("="), "e30", "AAAA"]): "not signed with a key",
    }
    for header, message in cases.items():
        for path in ("/v2/", "/v2/team/app/manifests/1"):
            reply = await call(world.url(path), authorization=header)
            assert reply.status == 401, (header, reply.body)
            assert reply.error["code"] == "UNAUTHORIZED"
            assert message in reply.error["message"], (header, reply.error)
            assert 'error="invalid_token"' in reply.challenge
    assert (
        await call(world.url("/v2/team/app/manifests/1"), authorization=basic("ci", secret))
    ).status == 200


async def test_tokens_that_must_not_work(make_auth_world: MakeAuthWorld) -> None:
    world = await make_auth_world(**NO_LIMIT)
    await world.push("team/app", "1")
    await world.robot("ci", "team/**")
    robot = await world.pullgate.services.stores.robots.get("ci")
    assert robot is not None
    key = await world.signing_key()
    now = int(time.time())
    valid = {
        "iss": "pullgate",
        "sub": "robot:ci",
        "aud": "pullgate",
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "access": [{"type": "repository", "name": f"{world.registry}/team/app", "actions": ["pull"]}],
        "rid": robot.id,
        "rsv": robot.secret_version,
    }
    url = world.url("/v2/team/app/manifests/1")
    assert (await call(url, authorization=bearer(jwt.sign(valid, key.secret, key.kid)))).status == 200

    def signed(secret: bytes = key.secret, kid: str = key.kid, **changes: Any) -> str:
        return jwt.sign({**valid, **changes}, secret, kid)

    genuine = signed().split(".")
    tampered = ".".join([genuine[0], signed(sub="robot:root").split(".")[1], genuine[2]])
    unsigned = ".".join(
        [
            base64.urlsafe_b64encode(b'{"alg":"none","kid":"' + key.kid.encode() + b'"}')
            .decode()
            .rstrip("="),
            genuine[1],
            "",
        ]
    )
    cases = {
        signed(exp=now - 1): "expired",
        signed(secret=secrets.token_bytes(32)): "signature does not match",
        signed(kid="another-key"): "not signed with a key of this pullgate",
        signed(aud="another-service"): "not for service 'pullgate'",
        signed(iss="someone-else"): "another issuer",
        signed(nbf=now + 3600): "not valid yet",
        signed(rsv=robot.secret_version + 1): "new secret",
        signed(rid="00000000-0000-0000-0000-000000000000"): "robot does not exist",
        signed(exp="soon"): "not a number",
        tampered: "signature does not match",
        unsigned: "algorithm 'none' is not accepted",
    }
    for token, message in cases.items():
        reply = await call(url, authorization=bearer(token))
        assert reply.status == 401, (message, reply.body)
        assert message in reply.error["message"], (message, reply.error)
    # Signed and valid, but for another repository: the robot may pull this one, so 401 and a scope.
    elsewhere = [{"type": "repository", "name": f"{world.registry}/team/other", "actions": ["pull"]}]
    reply = await call(url, authorization=bearer(signed(access=elsewhere)))
    assert reply.status == 401 and 'error="insufficient_scope"' in reply.challenge
    push_only = [{"type": "repository", "name": f"{world.registry}/team/app", "actions": ["push"]}]
    assert (await call(url, authorization=bearer(signed(access=push_only)))).status == 401


async def test_revocation_rotation_and_expiry_stop_basic_and_tokens(make_auth_world: MakeAuthWorld) -> None:
    world = await make_auth_world(pull_auth={"revocation_check_interval": 0.2}, **NO_LIMIT)
    await world.push("team/app", "1")
    url = world.url("/v2/team/app/manifests/1")
    secret = await world.robot("ci", "team/**")
    token = await world.token("repository:team/app:pull", authorization=basic("ci", secret))
    assert (await call(url, authorization=basic("ci", secret))).status == 200  # now cached
    assert (await call(url, authorization=bearer(token))).status == 200
    # Revoked in the database directly, as another replica or `pullgate robot revoke` does.
    assert await world.pullgate.services.stores.robots.revoke("ci") is not None

    async def refused(authorization: str) -> Reply | None:
        reply = await call(url, authorization=authorization)
        return reply if reply.status == 401 else None

    for authorization in (basic("ci", secret), bearer(token)):
        reply = await _until(lambda authorization=authorization: refused(authorization))
        assert "robot 'ci' was revoked" in reply.error["message"]
    # Rotated through the admin service of this replica: at once.
    old = await world.robot("build", "team/**")
    old_token = await world.token("repository:team/app:pull", authorization=basic("build", old))
    assert world.pullgate.services.admin is not None
    _, new = await world.pullgate.services.admin.robots.rotate(ADMIN, "build")
    stale = await call(url, authorization=bearer(old_token))
    assert stale.status == 401 and "has a new secret" in stale.error["message"]
    assert (await call(url, authorization=basic("build", old))).status == 401
    assert (await call(url, authorization=basic("build", new))).status == 200
    # A robot past its expiry.
    gone = await world.robot("temp", "team/**", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = await call(url, authorization=basic("temp", gone))
    assert expired.status == 401 and "robot 'temp' expired at" in expired.error["message"]
    near = await world.robot("soon", "team/**", expires_at=datetime.now(UTC) + timedelta(seconds=60))
    claims = json.loads(
        _payload(await world.token("repository:team/app:pull", authorization=basic("soon", near)))
    )
    assert claims["exp"] - claims["iat"] <= 60  # a token never outlives its robot


async def test_the_token_endpoint_refuses_bad_requests(make_auth_world: MakeAuthWorld) -> None:
    world = await make_auth_world(**NO_LIMIT)
    secret = await world.robot("ci", "team/**")
    creds = basic("ci", secret)
    gets = {
        "": "service is required",
        "service=other": "service 'other' is not this pullgate's",
        "service=pullgate&service=pullgate": "service is given 2 times",
        "service=pullgate&scope=repository:team/app": "is not type:name:actions",
        "service=pullgate&scope=repository:team/app:": "names no action",
        "service=pullgate&scope=repository:Team/App:pull": "invalid repository",
        "service=pullgate&scope=repository:team/a%25b:pull": "invalid repository",
        "service=pullgate&scope=rep%20o:x:pull": "is not type:name:actions",
        "service=pullgate&scope=" + "+".join(["repository:team/app:pull"] * 21): "at most 20 scopes",
        "service=pullgate&account=someone-else": "is not the robot the credentials are for",
    }
    for query, message in gets.items():
        reply = await call(world.url(f"/auth/token?{query}"), authorization=creds)
        assert reply.status == 400, (query, reply.body)
        assert reply.error["code"] == "TOKEN_REQUEST_INVALID" and message in reply.error["message"], (
            reply.error
        )
    form = {"grant_type": "password", "username": "ci", "password": secret, "service": "pullgate"}
    posts: dict[str, tuple[Any, int, str]] = {
        "json body": (json.dumps(form), 400, "application/x-www-form-urlencoded"),
        "refresh grant": (
            {**form, "grant_type": "refresh_token"},
            400,
            "grant_type 'refresh_token' is not supported",
        ),
        "no grant": ({k: v for k, v in form.items() if k != "grant_type"}, 400, "grant_type is required"),
        "no username": ({k: v for k, v in form.items() if k != "username"}, 400, "username is required"),
        "no password": ({k: v for k, v in form.items() if k != "password"}, 400, "password is required"),
        "wrong password": (
            {**form, "password": "wrong"},
            401,
            "robot 'ci' is unknown or the secret is wrong",
        ),
        "wrong service": ({**form, "service": "x"}, 400, "service 'x' is not this pullgate's"),
    }
    for case, (data, status, message) in posts.items():
        headers = {"Content-Type": "application/json"} if case == "json body" else None
        reply = await call(world.url("/auth/token"), method="POST", data=data, headers=headers)
        assert (reply.status, case) == (status, case), reply.body
        assert message in reply.error["message"], (case, reply.error)
    bearer_at_endpoint = await call(world.url("/auth/token?service=pullgate"), authorization="Bearer abc")
    assert (
        bearer_at_endpoint.status == 401
        and "takes Basic robot credentials" in bearer_at_endpoint.error["message"]
    )
    # Kinds and actions pullgate never grants are left out, not refused.
    token = await world.token("registry:catalog:*", "repository:team/app:push", authorization=creds)
    assert json.loads(_payload(token))["access"] == []


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
