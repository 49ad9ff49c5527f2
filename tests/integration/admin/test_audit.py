"""Audit queries with filters and pagination, and "who pulled digest X" in one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.admin.conftest import MakeWorld

POLICY = """
default_action: allow
rules:
  - {id: no-bad, match: {repository: "library/bad"}, action: deny}
"""


async def test_filters_and_pages(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    started = datetime.now(UTC) - timedelta(seconds=1)
    good = await world.push("library/good", "1")
    await world.push("library/bad", "1")
    for _ in range(3):
        assert (await world.pull("library/good", "1")).status == 200
    assert (await world.pull("library/bad", "1")).status == 403
    everything = await world.audited(4, kind="pull")

    assert {e["repository"] for e in await world.audited(3, repository="library/good")} == {"library/good"}
    denied = await world.audited(1, outcome="deny")
    assert [(e["repository"], e["rule_ids"]) for e in denied] == [("library/bad", ["no-bad"])]
    assert denied[0]["reasons"][0]["rule_id"] == "no-bad"
    assert len(await world.audited(3, digest=good.digest)) == 3
    assert len(await world.audited(4, client="127.0.0.1")) == 4
    assert len(await world.audited(4, upstream=world.upstream_name, kind="pull")) == 4
    assert len(await world.audited(4, kind="pull", since=started.isoformat())) == 4
    assert (await world.admin.get("/audit", until=started.isoformat())).json["items"] == []

    ids: list[int] = []
    cursor: str | None = None
    while True:
        page = (
            await world.admin.get("/audit", kind="pull", limit="3", **({"cursor": cursor} if cursor else {}))
        ).json
        ids += [e["id"] for e in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert ids == [e["id"] for e in everything]  # newest first, each once
    assert everything[0]["user_agent"] == "admin-tests"


async def test_bad_queries_name_the_parameter(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    cases = {
        "cursor": {"cursor": "not-a-cursor"},
        "since": {"since": "yesterday"},
        "until": {"until": "2030-01-01T00:00:00"},  # no offset: ambiguous
        "digest": {"digest": "md5:abc"},
        "outcome": {"outcome": "maybe"},
        "limit": {"limit": "5000"},
        "colour": {"colour": "blue"},
    }
    for field, params in cases.items():
        answer = await world.admin.get("/audit", **params)
        assert (answer.status, answer.error["code"], answer.error["field"]) == (
            422,
            "invalid_field",
            field,
        ), params


async def test_who_pulled(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    image = await world.push("library/good", "1")
    await world.push_to(world.upstream, "library/copy", image, "1")
    for repository in ("library/good", "library/good", "library/copy"):
        assert (await world.pull(repository, "1")).status == 200
    await world.audited(3, digest=image.digest)
    pullers = (await world.admin.get("/audit/pulls", digest=image.digest)).json
    assert pullers["next_cursor"] is None
    [puller] = pullers["items"]
    assert (puller["client_address"], puller["pulls"], puller["served"]) == ("127.0.0.1", 3, 3)
    missing = await world.admin.get("/audit/pulls")
    assert (missing.status, missing.error["field"]) == (422, "digest")
    nobody = (await world.admin.get("/audit/pulls", digest="sha256:" + "0" * 64)).json
    assert nobody == {"items": [], "next_cursor": None}
