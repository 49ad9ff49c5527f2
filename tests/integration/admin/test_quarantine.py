"""Quarantine end to end: a held image is denied (naming the decision), queued, released
through the API (then it pulls, with skopeo too), and rejected (then it is denied again)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.admin.conftest import MakeWorld, World
from tests.support.push import skopeo_copy

POLICY = """
default_action: allow
rules:
  - {id: hold-new, match: {repository: "library/held"}, action: quarantine, description: review first}
"""


async def _held(world: World) -> tuple[str, dict[str, object]]:
    """Pull the held image once; its decision id and its (pending) queue entry."""
    denied = await world.pull("library/held", "1")
    assert denied.status == 403
    assert denied.error["code"] == "DENIED"
    decision_id = str(denied.error["detail"]["decision_id"])
    assert f"(decision {decision_id})" in denied.error["message"]
    assert "quarantined pending review" in denied.error["message"]
    queue = (await world.admin.get("/quarantine", status="pending")).json["items"]
    assert len(queue) == 1
    return decision_id, queue[0]


async def test_release_then_reject(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(POLICY)
    image = await world.push("library/held", "1")
    decision_id, entry = await _held(world)
    assert (entry["digest"], entry["decision_id"], entry["rule_ids"]) == (
        image.digest,
        decision_id,
        ["hold-new"],
    )
    decision = (await world.admin.get(f"/decisions/{decision_id}")).json
    assert (decision["outcome"], decision["rule_ids"]) == ("quarantine", ["hold-new"])

    source = f"docker://{world.pullgate.host}/library/held:1"
    refused = await skopeo_copy(source, f"dir:{tmp_path / 'before'}", check=False)
    assert refused.returncode != 0
    assert "quarantined pending review" in refused.stderr  # what a person running skopeo reads

    path = f"/quarantine/{entry['id']}"
    version = (await world.admin.get("/policy")).json["version"]
    released = await world.admin.post(
        path + "/release", {"reason": "reviewed the Dockerfile", "expires_at": None}
    )
    assert released.status == 200
    assert (released.json["status"], released.json["reviewed_by"]) == ("released", "token:ci-admin")
    assert released.json["policy_version"] == version + 1  # every replica re-decides
    assert (await world.pull("library/held", "1")).status == 200
    await skopeo_copy(source, f"dir:{tmp_path / 'after'}")
    assert (tmp_path / "after" / "manifest.json").exists()

    again = await world.admin.post(path + "/release", {"reason": "twice"})
    assert (again.status, again.error["code"]) == (409, "conflict")

    rejected = await world.admin.post(path + "/reject", {"reason": "a CVE after all"})
    assert (rejected.status, rejected.json["status"]) == (200, "rejected")
    denied = await world.pull("library/held", "1")
    assert denied.status == 403
    assert "rejected by token:ci-admin" in denied.error["message"]
    assert (await world.admin.post(path + "/release", {"reason": "undo"})).status == 409

    assert (await world.admin.get(path)).json["status"] == "rejected"
    assert (await world.admin.get("/quarantine", status="pending")).json["items"] == []
    events = await world.audited(2, kind="admin", digest=image.digest)
    assert [e["detail"]["action"] for e in events] == ["quarantine.reject", "quarantine.release"]
    assert events[0]["detail"]["reason"] == "a CVE after all"


async def test_release_until_a_date(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    await world.push("library/held", "1")
    _, entry = await _held(world)
    path = f"/quarantine/{entry['id']}/release"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = await world.admin.post(path, {"reason": "too late", "expires_at": past})
    assert (expired.status, expired.error["field"]) == (422, "expires_at")
    naive = await world.admin.post(path, {"reason": "which zone?", "expires_at": "2030-01-01T00:00:00"})
    assert (naive.status, naive.error["field"]) == (422, "expires_at")
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    released = await world.admin.post(path, {"reason": "for the release train", "expires_at": until})
    assert released.status == 200
    assert datetime.fromisoformat(released.json["expires_at"]) == datetime.fromisoformat(until)
    assert (await world.pull("library/held", "1")).status == 200


async def test_queue_pages_and_unknown_entries(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    for tag in ("1", "2", "3"):
        await world.push("library/held", tag)
        assert (await world.pull("library/held", tag)).status == 403
    first = (await world.admin.get("/quarantine", limit="2")).json
    second = (await world.admin.get("/quarantine", limit="2", cursor=first["next_cursor"])).json
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert len(ids) == 3 == len(set(ids))
    assert second["next_cursor"] is None
    assert (await world.admin.get("/quarantine/999999")).status == 404
    assert (await world.admin.post("/quarantine/999999/reject", {"reason": "x"})).status == 404
    assert (await world.admin.get("/quarantine", status="lost")).error["field"] == "status"
