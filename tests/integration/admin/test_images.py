"""Cached images with their decision and review state, and one digest's blast radius."""

from __future__ import annotations

from tests.integration.admin.conftest import MakeWorld

POLICY = """
default_action: allow
rules:
  - {id: no-bad, match: {repository: "library/bad"}, action: deny}
  - {id: hold, match: {repository: "library/held"}, action: quarantine}
"""


# The listing's SQL (correlated subqueries, outer joins) runs on both databases.
async def test_listing_with_filters_and_pages(make_world: MakeWorld, database_url: str) -> None:
    world = await make_world(POLICY, database_url=database_url)
    good = await world.push("library/good", "1")
    await world.push_to(world.upstream, "library/good", good, "stable")
    bad = await world.push("library/bad", "1")
    held = await world.push("library/held", "1")
    for repository in ("library/good", "library/bad", "library/held"):
        await world.pull(repository, "1")
    await world.pull("library/good", "stable")  # pullgate knows the tags it has resolved

    images = {i["repository"]: i for i in (await world.admin.get("/images")).json["items"]}
    assert set(images) == {"library/good", "library/bad", "library/held"}
    listed = images["library/good"]
    assert (listed["digest"], listed["tags"], listed["size"]) == (good.digest, ["1", "stable"], good.size)
    assert (listed["upstream"], listed["media_type"]) == (world.upstream_name, good.media_type)
    assert listed["decision"]["outcome"] == "allow"
    assert listed["quarantine"] is None
    assert images["library/bad"]["decision"]["outcome"] == "deny"
    assert images["library/held"]["quarantine"]["status"] == "pending"

    denied = (await world.admin.get("/images", outcome="deny")).json["items"]
    assert [i["digest"] for i in denied] == [bad.digest]
    only = (await world.admin.get("/images", repository="library/held")).json["items"]
    assert [i["digest"] for i in only] == [held.digest]
    assert (await world.admin.get("/images", upstream="elsewhere.io")).json["items"] == []

    first = (await world.admin.get("/images", limit="2")).json
    rest = (await world.admin.get("/images", limit="2", cursor=first["next_cursor"])).json
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_blast_radius_of_a_digest(make_world: MakeWorld, database_url: str) -> None:
    world = await make_world(POLICY, database_url=database_url)
    image = await world.push("library/good", "1")
    await world.push_to(world.upstream, "library/bad", image, "1")
    assert (await world.pull("library/good", "1")).status == 200
    assert (await world.pull("library/bad", "1")).status == 403
    await world.audited(2, digest=image.digest)

    detail = (await world.admin.get(f"/images/{image.digest}")).json
    assert sorted(r["repository"] for r in detail["repositories"]) == ["library/bad", "library/good"]
    assert sorted(d["outcome"] for d in detail["decisions"]) == ["allow", "deny"]
    assert detail["stored"]["kind"] == "manifest"
    [puller] = detail["pulled_by"]["items"]
    assert (puller["pulls"], puller["served"]) == (2, 1)

    assert (await world.admin.get("/images/sha256:" + "1" * 64)).status == 404
    invalid = await world.admin.get("/images/sha256:nothex")
    assert (invalid.status, invalid.error["field"]) == (422, "digest")
