"""Robot accounts through the admin API, admin token expiry, and the audit naming who pulled."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import aiohttp

from tests.integration.admin.conftest import MakeWorld, World
from tests.support.push import MANIFEST_ACCEPT

SCOPES = [{"registry": "*", "repository": "team/**"}]


async def test_robot_lifecycle_and_bad_input(world: World) -> None:
    api = world.admin
    created = await api.post(
        "/robots", {"name": "ci", "owner": "platform", "scopes": SCOPES, "description": "builds"}
    )
    assert created.status == 201 and created.headers["Location"] == "/api/v1/robots/ci"
    body = created.json
    assert body["username"] == "ci" and body["secret"].startswith("pgr_")
    robot = body["robot"]
    assert (robot["identity"], robot["owner"], robot["secret_version"]) == ("robot:ci", "platform", 1)
    assert robot["scopes"] == SCOPES and robot["revoked_at"] is None and robot["expires_at"] is None
    listed = (await api.get("/robots")).json["items"]
    assert [r["name"] for r in listed] == ["ci"] and "secret" not in listed[0]
    assert (await api.get("/robots/ci")).json["id"] == robot["id"]

    rotated = (await api.post("/robots/ci/secret", None)).json
    assert rotated["secret"] != body["secret"] and rotated["robot"]["secret_version"] == 2
    revoked = await api.delete("/robots/ci")
    assert revoked.status == 200 and revoked.json["revoked_at"] is not None
    for again in (await api.delete("/robots/ci"), await api.post("/robots/ci/secret", None)):
        assert again.status == 404 and again.error["code"] == "not_found"
    assert (await api.get("/robots/nobody")).status == 404

    events = await world.audited(3, kind="admin")
    actions = [e["detail"]["action"] for e in events if e["detail"]["action"].startswith("robot.")]
    assert actions == ["robot.revoke", "robot.rotate", "robot.create"]
    assert all(e["identity"] == "token:ci-admin" for e in events)
    assert not any(secret in str(events) for secret in (body["secret"], rotated["secret"]))
    assert (await world.auditor.post("/robots", {"name": "x", "owner": "o", "scopes": SCOPES})).status == 403

    # Bad input names its field, and nothing is stored; a name is never reused, even revoked.
    good = {"name": "ci", "owner": "platform", "scopes": SCOPES}
    duplicate = await api.post("/robots", good)
    assert (duplicate.status, duplicate.error["code"], duplicate.error["field"]) == (409, "conflict", "name")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = {
        "name": {**good, "name": "CI:bad"},
        "scopes": {**good, "name": "a", "scopes": []},
        "scopes.0.repository": {**good, "name": "b", "scopes": [{"repository": "team/**x"}]},
        "scopes.0.registry": {**good, "name": "c", "scopes": [{"registry": "a/b", "repository": "x"}]},
        "expires_at": {**good, "name": "d", "expires_at": past},
        "owner": {**good, "name": "e", "owner": ""},
        "colour": {**good, "name": "f", "colour": "blue"},
    }
    for field, robot in cases.items():
        refused = await api.post("/robots", robot)
        assert refused.status == 422, (field, refused.text)
        assert refused.error["field"] == field, (field, refused.error)
    assert [r["name"] for r in (await api.get("/robots")).json["items"]] == ["ci"]


async def test_admin_tokens_expire_and_say_so(world: World) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    created = await world.admin.post("/tokens", {"name": "short", "role": "auditor", "expires_at": soon})
    assert created.status == 201 and created.json["expires_at"] is not None
    client = world.admin.as_(created.json["token"])
    assert (await client.get("/rules")).status == 200
    listed = {t["name"]: t for t in (await world.admin.get("/tokens")).json["items"]}
    assert listed["short"]["expires_at"] is not None and listed["short"]["legacy"] is False
    await asyncio.sleep(1.1)
    expired = await client.get("/rules")  # cached as verified, and still refused once past expiry
    assert expired.status == 401 and "expired" in expired.error["message"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await world.admin.post("/tokens", {"name": "late", "role": "admin", "expires_at": past})
    assert refused.status == 422 and refused.error["field"] == "expires_at"


async def test_the_audit_names_the_robot_that_pulled(make_world: MakeWorld) -> None:
    world = await make_world(pull_auth={"enabled": True})
    image = await world.push("team/app", "1")
    secret = (await world.admin.post("/robots", {"name": "ci", "owner": "p", "scopes": SCOPES})).json[
        "secret"
    ]
    headers = {
        "Accept": MANIFEST_ACCEPT,
        "Authorization": "Basic " + base64.b64encode(f"ci:{secret}".encode()).decode(),
    }
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(f"{world.pullgate.url}/v2/team/app/manifests/1", headers=headers) as resp:
                assert resp.status == 200
    events = await world.audited(2, client="robot:ci")
    assert {(e["kind"], e["identity"], e["digest"]) for e in events} == {("pull", "robot:ci", image.digest)}
    (puller,) = (await world.admin.get("/audit/pulls", digest=image.digest)).json["items"]
    assert (puller["identity"], puller["pulls"], puller["served"]) == ("robot:ci", 2, 2)
