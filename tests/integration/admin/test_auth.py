"""Bearer tokens and roles: no, wrong or revoked token -> 401; an auditor writing -> 403."""

from __future__ import annotations

import aiohttp

from tests.integration.admin.conftest import World

RULE = {"id": "deny-bad", "match": {"repository": "library/bad"}, "action": "deny"}


async def test_no_token_is_challenged(world: World) -> None:
    answer = await world.anonymous.get("/rules")
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="pullgate"'
    assert answer.error["code"] == "unauthorized"
    assert answer.error["request_id"] == answer.headers["X-Request-Id"]


async def test_wrong_or_malformed_token_is_refused(world: World) -> None:
    for header in ("Bearer pgt_not-a-real-token", "Basic YWxpY2U6d29uZGVybGFuZA==", "Bearer", "pgt_x"):
        answer = await world.anonymous.request("GET", "/rules", headers={"Authorization": header})
        assert answer.status == 401, header
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="pullgate"')
    answer = await world.anonymous.as_("pgt_not-a-real-token").get("/rules")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="pullgate", error="invalid_token"'


async def test_revoked_token_is_refused(world: World) -> None:
    created = await world.admin.post("/tokens", {"name": "short-lived", "role": "admin"})
    client = world.admin.as_(created.json["token"])
    assert (await client.get("/rules")).status == 200
    assert (await world.admin.delete(f"/tokens/{created.json['id']}")).status == 200
    answer = await client.get("/rules")
    assert answer.status == 401
    assert "revoked" in answer.error["message"]


async def test_auditor_reads_but_cannot_write(world: World) -> None:
    for path in ("/rules", "/policy", "/quarantine", "/audit", "/images", "/cache", "/tokens", "/upstreams"):
        assert (await world.auditor.get(path)).status == 200, path
    refused = await world.auditor.post("/rules", RULE)
    assert refused.status == 403
    assert refused.error["code"] == "forbidden"
    assert (await world.auditor.post("/tokens", {"name": "escalate", "role": "admin"})).status == 403
    assert (await world.auditor.put("/policy/default-action", {"default_action": "allow"})).status == 403
    assert (await world.admin.get("/rules/deny-bad")).status == 404  # nothing was written
    # A dry run changes nothing, so an auditor may ask it.
    await world.push("team/dry", "1")
    asked = await world.auditor.post("/decisions/dry-run", {"image": f"{world.upstream_name}/team/dry:1"})
    assert asked.status == 200, asked.error
    assert (await world.admin.post("/rules", RULE)).status == 201


async def test_admin_changes_are_audited_with_the_token_identity(world: World) -> None:
    await world.admin.post("/rules", RULE)
    events = await world.audited(1, kind="admin")
    assert events[0]["identity"] == "token:ci-admin"
    assert events[0]["detail"]["action"] == "rule.create"
    assert events[0]["detail"]["rule"]["action"] == "deny"
    assert events[0]["user_agent"]


async def test_openapi_document_needs_no_token(world: World) -> None:
    answer = await world.anonymous.get("/openapi.json")
    assert answer.status == 200
    assert answer.json["openapi"].startswith("3.1")


async def test_unknown_routes_and_methods_answer_json_errors(world: World) -> None:
    assert (await world.anonymous.request("GET", "/nowhere", check=False)).status == 401
    missing = await world.admin.request("GET", "/nowhere", check=False)
    assert (missing.status, missing.error["code"]) == (404, "not_found")
    wrong = await world.admin.request("PATCH", "/rules", check=False)
    assert (wrong.status, wrong.error["code"]) == (405, "method_not_allowed")
    assert "GET" in wrong.headers["Allow"]


async def test_registry_api_is_untouched_by_admin_auth(world: World) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{world.pullgate.url}/v2/") as resp:
        assert resp.status == 200
        assert "WWW-Authenticate" not in resp.headers
    await world.push("library/demo", "1")
    assert (await world.pull("library/demo", "1")).status == 200
