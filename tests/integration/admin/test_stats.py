"""Dashboard figures from the audit log: pulls per outcome over time, the reasons and images
refused most, and who the caller is — counted from real pulls through pullgate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.admin.conftest import MakeWorld, World

POLICY = """
default_action: allow
rules:
  - {id: no-bad, match: {repository: "bad/*"}, action: deny, description: never these}
  - {id: hold, match: {repository: "held/*"}, action: quarantine}
"""


async def _pull_mix(world: World) -> None:
    """2 allowed, 3 denied (2 of one image, 1 of another), 1 quarantined pull."""
    await world.push("ok/app", "1")
    await world.push("bad/app", "1")
    await world.push("bad/other", "1")
    await world.push("held/app", "1")
    for repository, expected in (
        ("ok/app", 200),
        ("ok/app", 200),
        ("bad/app", 403),
        ("bad/app", 403),
        ("bad/other", 403),
        ("held/app", 403),
    ):
        assert (await world.pull(repository, "1")).status == expected
    await world.audited(6, kind="pull")


def _range(**around: float) -> dict[str, str]:
    now = datetime.now(UTC)
    since = now - timedelta(seconds=around.get("before", 3600))
    until = now + timedelta(seconds=around.get("after", 60))
    return {"since": since.isoformat(), "until": until.isoformat()}


async def test_pulls_are_counted_per_outcome_and_bucket(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    await _pull_mix(world)
    answer = await world.auditor.get("/stats/pulls", buckets="60", **_range())
    assert answer.status == 200
    stats = answer.json
    assert stats["totals"] == {"allow": 2, "warn": 0, "deny": 3, "quarantine": 1, "pending": 0}
    assert len(stats["buckets"]) == 60
    assert stats["bucket_seconds"] == (3660 / 60)
    # Every pull is in the bucket holding "now" (the pulls took well under a minute)...
    counted = [b for b in stats["buckets"] if sum(b["counts"].values())]
    assert sum(sum(b["counts"].values()) for b in counted) == 6
    assert len(counted) <= 2
    last = datetime.fromisoformat(counted[-1]["start"])
    assert last <= datetime.now(UTC) < last + timedelta(seconds=2 * stats["bucket_seconds"])
    # ...and none in a range that ended before them.
    before = await world.admin.get("/stats/pulls", **_range(before=7200, after=-3600))
    assert sum(before.json["totals"].values()) == 0


async def test_denials_name_the_deciding_reason_and_the_images(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    await _pull_mix(world)
    stats = (await world.auditor.get("/stats/denials", **_range())).json
    assert stats["outcomes"] == ["deny", "quarantine", "pending"]
    reasons = [(r["check"], r["source"], r["count"]) for r in stats["reasons"]]
    assert reasons == [("rule", "no-bad", 3), ("rule", "hold", 1)]
    assert "never these" in stats["reasons"][0]["example"]
    images = [(i["repository"], i["count"]) for i in stats["images"]]
    assert images[0] == ("bad/app", 2)
    assert sorted(images[1:]) == [("bad/other", 1), ("held/app", 1)]
    assert all(i["upstream"] == world.upstream_name for i in stats["images"])

    only = (await world.admin.get("/stats/denials", outcome="quarantine", limit="1", **_range())).json
    assert [(r["source"], r["count"]) for r in only["reasons"]] == [("hold", 1)]
    assert [i["repository"] for i in only["images"]] == ["held/app"]


async def test_signature_and_vulnerability_denials_are_grouped_by_their_requirement(
    make_world: MakeWorld,
) -> None:
    policy = """
default_action: allow
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    authorities: [{name: ci, key: {trust: ci-key}}]
"""
    world = await make_world(policy)
    await world.push("team/a", "1")
    await world.push("team/b", "1")
    for repository in ("team/a", "team/b"):
        assert (await world.pull(repository, "1")).status == 403
    await world.audited(2, kind="pull")
    reasons = (await world.admin.get("/stats/denials", **_range())).json["reasons"]
    assert [(r["check"], r["source"], r["count"]) for r in reasons] == [("signature", "team-signed", 2)]


async def test_bad_ranges_and_parameters_are_refused(world: World) -> None:
    now = datetime.now(UTC)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    answer = await world.admin.get("/stats/pulls", **backwards)
    assert (answer.status, answer.error["field"]) == (422, "since")
    too_long = {"since": (now - timedelta(days=91)).isoformat(), "until": now.isoformat()}
    answer = await world.admin.get("/stats/denials", **too_long)
    assert (answer.status, answer.error["field"]) == (422, "since")
    assert "90 days" in answer.error["message"]
    for params in (
        {"buckets": "0"},
        {"buckets": "501"},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
    ):
        answer = await world.admin.get("/stats/pulls", **params)
        assert answer.status == 422, params
    assert (await world.admin.get("/stats/denials", outcome="allow")).status == 422
    assert (await world.admin.get("/stats/denials", limit="101")).status == 422
    assert (await world.admin.get("/stats/pulls", bogus="1")).status == 422
    assert (await world.anonymous.get("/stats/pulls")).status == 401


async def test_whoami_names_the_token_and_its_rights(world: World) -> None:
    admin = (await world.admin.get("/whoami")).json
    assert (admin["name"], admin["role"], admin["writes"]) == ("ci-admin", "admin", True)
    assert admin["identity"] == "token:ci-admin"
    auditor = (await world.auditor.get("/whoami")).json
    assert (auditor["name"], auditor["role"], auditor["writes"]) == ("ci-auditor", "auditor", False)
    assert auditor["token_id"] != admin["token_id"]
    refused = await world.anonymous.get("/whoami")
    assert refused.status == 401


async def test_cache_reports_its_hit_ratio(world: World) -> None:
    fresh = (await world.admin.get("/cache")).json
    assert all(ratio is None for ratio in fresh["hit_ratio"].values())
    await world.push("ok/app", "1")
    for _ in range(3):
        assert (await world.pull("ok/app", "1")).status == 200
    cache = (await world.admin.get("/cache")).json
    for kind, ratio in cache["hit_ratio"].items():
        hits, misses = cache["hits"].get(kind, 0), cache["misses"].get(kind, 0)
        assert ratio == (hits / (hits + misses) if hits + misses else None)
    assert cache["hit_ratio"]["manifest"] is not None and cache["hit_ratio"]["manifest"] > 0
