"""Requests are validated strictly: 400 for what is not JSON, 422 naming the field for
what is JSON but wrong, unknown fields and parameters refused, bodies capped."""

from __future__ import annotations

from tests.integration.admin.conftest import World

RULE = {"id": "r1", "match": {"repository": "library/*"}, "action": "allow"}


async def _invalid(world: World, body: object, path: str = "/rules") -> tuple[int, str | None, str]:
    answer = await world.admin.post(path, body)
    return answer.status, answer.error["field"], answer.error["message"]


async def test_malformed_json_is_400(world: World) -> None:
    for raw in ("{", '{"id": "x",}', "", "\xff"):
        answer = await world.admin.request(
            "POST", "/rules", data=raw.encode("latin-1"), headers={"Content-Type": "application/json"}
        )
        assert (answer.status, answer.error["code"]) == (400, "malformed_request"), raw


async def test_invalid_fields_are_422_and_named(world: World) -> None:
    assert (await _invalid(world, {**RULE, "action": "maybe"}))[:2] == (422, "action")
    assert (await _invalid(world, {**RULE, "id": "no spaces"}))[:2] == (422, "id")
    assert (await _invalid(world, {**RULE, "match": {"repository": 7}}))[:2] == (422, "match.repository")
    assert (await _invalid(world, {**RULE, "match": {"tag_regex": "(unclosed"}}))[:2] == (
        422,
        "match.tag_regex",
    )
    assert (await _invalid(world, {**RULE, "expires_at": "2030-01-01"}))[:2] == (422, "expires_at")
    assert (await _invalid(world, ["not", "an", "object"]))[0] == 422
    status, field, message = await _invalid(world, {"match": {}})
    assert (status, field) == (422, "id")
    assert "action" in message  # every problem is listed, not just the first


async def test_unknown_fields_are_refused(world: World) -> None:
    assert (await _invalid(world, {**RULE, "priority": 1}))[:2] == (422, "priority")
    assert (await _invalid(world, {**RULE, "match": {"repo": "x"}}))[:2] == (422, "match.repo")
    answer = await world.admin.post("/tokens", {"name": "x", "role": "admin", "scopes": ["all"]})
    assert (answer.status, answer.error["field"]) == (422, "scopes")
    assert (await world.admin.get("/rules", sort="id")).error["field"] == "sort"


async def test_query_parameters_are_checked(world: World) -> None:
    for limit in ("0", "1001", "ten"):
        answer = await world.admin.get("/rules", limit=limit)
        assert (answer.status, answer.error["field"]) == (422, "limit"), limit
    twice = await world.admin.request("GET", "/rules?limit=1&limit=2")
    assert (twice.status, twice.error["field"]) == (422, "limit")
    assert (await world.admin.get("/rules", cursor="garbage")).error["field"] == "cursor"


async def test_path_id_and_body_id_must_agree(world: World) -> None:
    await world.admin.post("/rules", RULE)
    answer = await world.admin.put("/rules/r1", {**RULE, "id": "r2"}, headers={"If-Match": '"1"'})
    assert (answer.status, answer.error["field"]) == (422, "id")
    body = {k: v for k, v in RULE.items() if k != "id"}  # the path names the rule
    assert (await world.admin.put("/rules/r1", body, headers={"If-Match": '"1"'})).status == 200


async def test_bodies_are_capped_and_typed(world: World) -> None:
    huge = {**RULE, "description": "x" * 100_000}
    answer = await world.admin.post("/rules", huge)
    assert (answer.status, answer.error["code"]) == (413, "payload_too_large")
    form = await world.admin.request("POST", "/rules", data="id=x", headers={"Content-Type": "text/plain"})
    assert (form.status, form.error["code"]) == (415, "unsupported_media_type")
    weak = await world.admin.put("/rules/r1", RULE, headers={"If-Match": 'W/"1"'})
    assert weak.status in (404, 412)
