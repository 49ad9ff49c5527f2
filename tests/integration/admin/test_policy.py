"""The policy as one document: export (JSON, YAML), idempotent import, default action."""

from __future__ import annotations

import json

import yaml

from proxy.policy.document import parse_policy_document
from tests.integration.admin.conftest import World

POLICY = """
default_action: deny
rules:
  - id: library
    match: {repository: "library/*"}
    action: allow
  - id: no-latest
    match: {repository: "**", tag: latest}
    action: deny
    description: pin a version
"""


async def _put_yaml(world: World, text: str) -> tuple[int, dict[str, object]]:
    answer = await world.admin.request(
        "PUT", "/policy", data=text, headers={"Content-Type": "application/yaml"}
    )
    return answer.status, answer.json


async def test_import_is_idempotent(world: World) -> None:
    status, first = await _put_yaml(world, POLICY)
    assert (status, first["changed"]) == (200, True)
    status, again = await _put_yaml(world, POLICY)
    assert (status, again) == (200, {"version": first["version"], "changed": False})

    exported = await world.admin.get("/policy")
    assert exported.json["version"] == first["version"]
    assert exported.headers["ETag"] == f'"{first["version"]}"'
    # The exported document imports as "no change": it can live in git.
    reimported = await world.admin.put("/policy", exported.json["document"])
    assert reimported.json == {"version": first["version"], "changed": False}
    assert [rule["id"] for rule in exported.json["document"]["rules"]] == ["library", "no-latest"]

    changed = yaml.safe_load(POLICY)
    changed["rules"][1]["action"] = "quarantine"
    answer = await world.admin.put("/policy", changed)
    assert answer.json == {"version": first["version"] + 1, "changed": True}

    events = await world.audited(2, kind="admin")
    assert events[0]["detail"]["updated"] == ["no-latest"]
    assert events[1]["detail"]["added"] == ["library", "no-latest"]
    assert events[1]["detail"]["removed"] == ["allow-all"]


async def test_yaml_export_round_trips(world: World) -> None:
    await _put_yaml(world, POLICY)
    answer = await world.admin.request("GET", "/policy", headers={"Accept": "application/yaml"})
    assert answer.headers["Content-Type"].startswith("application/yaml")
    assert parse_policy_document(answer.text) == parse_policy_document(POLICY)
    assert (await _put_yaml(world, answer.text))[1]["changed"] is False


async def test_import_takes_effect_on_the_next_pull(world: World) -> None:
    await world.push("library/app", "1.0")
    await world.push("library/app", "latest")
    await _put_yaml(world, POLICY)
    assert (await world.pull("library/app", "1.0")).status == 200
    denied = await world.pull("library/app", "latest")
    assert denied.status == 403
    assert "no-latest" in denied.error["message"]


async def test_default_action(world: World) -> None:
    await world.push("team/app", "1")
    await _put_yaml(world, POLICY)
    assert (await world.pull("team/app", "1")).status == 403  # no rule matches: the default
    before = (await world.admin.get("/policy")).json["version"]
    answer = await world.admin.put("/policy/default-action", {"default_action": "allow"})
    assert answer.json == {"version": before + 1, "changed": True}
    assert (await world.pull("team/app", "1")).status == 200
    same = await world.admin.put("/policy/default-action", {"default_action": "allow"})
    assert same.json == {"version": before + 1, "changed": False}


async def test_bad_documents_are_refused_with_the_field(world: World) -> None:
    status, body = await _put_yaml(world, "rules: [\n")
    assert (status, body["error"]["code"]) == (400, "malformed_request")

    status, body = await _put_yaml(world, "rules:\n  - {id: x, action: maybe}\n")
    assert (status, body["error"]["field"]) == (422, "rules.0.action")

    status, body = await _put_yaml(
        world, "rules:\n  - {id: x, action: allow, match: {tag: a, tag_regex: b}}\n"
    )
    assert status == 422
    assert "exclusive" in body["error"]["message"]

    status, body = await _put_yaml(world, "default_action: deny\ncolour: blue\n")
    assert (status, body["error"]["field"]) == (422, "colour")

    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nrules: [*b]\n"
    status, body = await _put_yaml(world, bomb)
    assert status == 400
    assert "aliases" in body["error"]["message"]

    answer = await world.admin.request("PUT", "/policy", data="x", headers={"Content-Type": "text/plain"})
    assert (answer.status, answer.error["code"]) == (415, "unsupported_media_type")
    assert (await world.admin.get("/policy")).json["document"]["rules"][0]["id"] == "allow-all"  # untouched


async def test_large_policies_fit_their_own_limit(world: World) -> None:
    # Well beyond the 64 KiB every other body is held to.
    rules = [
        {"id": f"team-{n}", "match": {"repository": f"team{n}/**"}, "action": "allow"} for n in range(1200)
    ]
    document = {"default_action": "deny", "rules": rules}
    assert len(json.dumps(document)) > 64 * 1024
    answer = await world.admin.put("/policy", document)
    assert (answer.status, answer.json["changed"]) == (200, True)
    exported = (await world.admin.get("/policy")).json["document"]
    assert len(exported["rules"]) == 1200
