"""Dry runs answer what the next pull gets, and leave no trace: no decision, no audit, no hold."""

from __future__ import annotations

from proxy.api.admin.decisions import split_image
from tests.integration.admin.conftest import MakeWorld, World

POLICY = """
default_action: deny
rules:
  - {id: apps, match: {repository: "library/app"}, action: allow}
  - {id: no-edge, match: {repository: "library/app", tag: edge}, action: deny}
  - {id: hold, match: {repository: "library/new"}, action: quarantine}
  - {id: soft, match: {repository: "library/app", tag: "beta*"}, action: deny, mode: warn}
"""


async def _dry(world: World, **body: str) -> dict[str, object]:
    answer = await world.admin.post("/decisions/dry-run", body)
    assert answer.status == 200, answer.text
    result: dict[str, object] = answer.json
    return result


async def test_dry_run_agrees_with_the_pull(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    for repository, tag in (
        ("library/app", "1"),
        ("library/app", "edge"),
        ("library/app", "beta2"),
        ("team/x", "1"),
    ):
        await world.push(repository, tag)
    cases = {("library/app", "1"): "allow", ("library/app", "edge"): "deny", ("library/app", "beta2"): "warn"}
    cases[("team/x", "1")] = "deny"
    for (repository, tag), outcome in cases.items():
        dry = await _dry(world, image=f"{world.upstream_name}/{repository}:{tag}")
        pulled = await world.pull(repository, tag)
        assert dry["outcome"] == outcome, (repository, tag, dry)
        assert dry["serves"] is (pulled.status == 200)
        if pulled.status == 403:
            detail = pulled.error["detail"]
            assert detail["outcome"] == dry["outcome"]
            assert [r.get("rule_id") for r in detail["reasons"]] == [r.get("rule_id") for r in dry["reasons"]]
            assert detail["policy_version"] == dry["policy_version"]


async def test_dry_run_records_nothing(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    image = await world.push("library/new", "1")
    dry = await _dry(world, repository="library/new", tag="1")
    assert (dry["outcome"], dry["rule_ids"], dry["digest"]) == ("quarantine", ["hold"], image.digest)
    by_digest = await _dry(world, repository="library/new", digest=image.digest)
    assert (by_digest["outcome"], by_digest["tag"]) == ("quarantine", None)
    assert (await world.admin.get("/quarantine")).json["items"] == []
    assert (await world.admin.get("/audit", kind="pull")).json["items"] == []
    detail = (await world.admin.get(f"/images/{image.digest}")).json
    assert detail["decisions"] == []
    # A real pull afterwards is held and audited as usual.
    assert (await world.pull("library/new", "1")).status == 403
    assert len((await world.admin.get("/quarantine")).json["items"]) == 1


async def test_dry_run_refusals_name_the_field(world: World) -> None:
    unknown = await world.admin.post("/decisions/dry-run", {"image": "ghcr.io/org/app:1"})
    assert (unknown.status, unknown.error["field"]) == (422, "image")
    assert "not a configured upstream" in unknown.error["message"]
    invalid = await world.admin.post("/decisions/dry-run", {"image": "Library/App:1"})
    assert (invalid.status, invalid.error["field"]) == (422, "image")
    both = await world.admin.post("/decisions/dry-run", {"image": "alpine", "tag": "1"})
    assert both.status == 422
    missing = await world.admin.post("/decisions/dry-run", {"repository": "library/none", "tag": "1"})
    assert (missing.status, missing.error["code"]) == (404, "not_found")
    assert (await world.admin.get("/decisions/not-a-decision")).status == 404


def test_image_references_split_like_a_runtime_names_them() -> None:
    assert split_image("alpine") == (None, "alpine", "latest")
    assert split_image("library/alpine:3.19") == (None, "library/alpine", "3.19")
    assert split_image("docker.io/library/alpine:3.19") == ("docker.io", "library/alpine", "3.19")
    assert split_image("127.0.0.1:5001/team/app") == ("127.0.0.1:5001", "team/app", "latest")
    assert split_image("localhost/app@sha256:abc") == ("localhost", "app", "sha256:abc")
    assert split_image("team/app:1@sha256:abc") == (None, "team/app", "sha256:abc")
