"""Rules CRUD with ETag/If-Match, pagination, and every change seen by the next pull."""

from __future__ import annotations

from tests.integration.admin.conftest import World

RULE = {
    "id": "no-legacy",
    "match": {"repository": "library/legacy", "tag": "v1.*"},
    "action": "deny",
    "description": "v1 is out of support",
    "owner": "platform",
}


async def test_create_read_replace_delete_with_etags(world: World) -> None:
    created = await world.admin.post("/rules", RULE)
    assert created.status == 201
    assert created.headers["Location"] == "/api/v1/rules/no-legacy"
    assert created.headers["ETag"] == '"1"'
    assert created.json["revision"] == 1
    assert created.json["match"]["tag"] == "v1.*"

    read = await world.admin.get("/rules/no-legacy")
    assert (read.status, read.headers["ETag"]) == (200, '"1"')

    changed = {**read.json, "action": "quarantine"}  # a read rule goes back as it came, read-only fields too
    assert (await world.admin.put("/rules/no-legacy", changed)).status == 428
    stale = await world.admin.put("/rules/no-legacy", changed, headers={"If-Match": '"7"'})
    assert (stale.status, stale.error["code"]) == (412, "precondition_failed")
    replaced = await world.admin.put("/rules/no-legacy", changed, headers={"If-Match": '"1"'})
    assert (replaced.status, replaced.headers["ETag"], replaced.json["action"]) == (200, '"2"', "quarantine")

    # The same rule again changes nothing: no new revision.
    again = await world.admin.put("/rules/no-legacy", changed, headers={"If-Match": "*"})
    assert (again.status, again.headers["ETag"]) == (200, '"2"')

    assert (await world.admin.delete("/rules/no-legacy", headers={"If-Match": '"1"'})).status == 412
    deleted = await world.admin.delete("/rules/no-legacy", headers={"If-Match": '"2"'})
    assert (deleted.status, deleted.json["id"]) == (200, "no-legacy")
    assert (await world.admin.get("/rules/no-legacy")).status == 404
    assert (await world.admin.delete("/rules/no-legacy")).status == 404
    assert (await world.admin.put("/rules/no-legacy", RULE, headers={"If-Match": "*"})).status == 404


async def test_duplicate_id_conflicts(world: World) -> None:
    assert (await world.admin.post("/rules", RULE)).status == 201
    duplicate = await world.admin.post("/rules", RULE)
    assert (duplicate.status, duplicate.error["code"], duplicate.error["field"]) == (409, "conflict", "id")


async def test_rules_page_in_id_order(world: World) -> None:
    for n in range(5):
        await world.admin.post("/rules", {**RULE, "id": f"rule-{n}"})
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await world.admin.get("/rules", **params)).json
        seen += [rule["id"] for rule in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["allow-all", "rule-0", "rule-1", "rule-2", "rule-3", "rule-4"]
    assert pages == 3


async def test_the_next_pull_sees_every_change(world: World) -> None:
    await world.push("library/legacy", "v1.2")
    assert (await world.pull("library/legacy", "v1.2")).status == 200

    await world.admin.post("/rules", RULE)
    denied = await world.pull("library/legacy", "v1.2")
    assert denied.status == 403
    assert denied.error["code"] == "DENIED"
    assert "no-legacy" in denied.error["message"]
    assert denied.error["detail"]["decision_id"] in denied.error["message"]

    await world.admin.put("/rules/no-legacy", {**RULE, "mode": "warn"}, headers={"If-Match": '"1"'})
    warned = await world.pull("library/legacy", "v1.2")
    assert warned.status == 200
    assert "no-legacy" in warned.headers["Warning"]

    await world.admin.delete("/rules/no-legacy")
    served = await world.pull("library/legacy", "v1.2")
    assert (served.status, served.headers.get("Warning")) == (200, None)


async def test_rule_changes_are_audited_with_what_changed(world: World) -> None:
    await world.admin.post("/rules", RULE)
    await world.admin.put("/rules/no-legacy", {**RULE, "action": "allow"}, headers={"If-Match": '"1"'})
    await world.admin.delete("/rules/no-legacy")
    events = await world.audited(3, kind="admin")
    actions = [event["detail"]["action"] for event in events]
    assert actions == ["rule.delete", "rule.update", "rule.create"]  # newest first
    update = events[1]
    assert update["detail"]["changes"] == {"action": {"from": "deny", "to": "allow"}}
    assert update["policy_version"] < events[0]["policy_version"]
    assert all(event["identity"] == "token:ci-admin" for event in events)
