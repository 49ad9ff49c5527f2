"""Upstreams and their health, cache statistics and purges, and API tokens."""

from __future__ import annotations

from db.gate_queries import encode_cursor
from proxy.cache.keys import RepoKey
from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from tests.integration.admin.conftest import MakeWorld, World
from tests.support.pullgate import upstream_entry
from tests.support.registry import free_port


async def test_upstreams_with_health(make_world: MakeWorld) -> None:
    dead = upstream_entry(
        f"http://127.0.0.1:{free_port()}", name="dead.example", default=False, aliases=["dead"]
    )
    world = await make_world(more_upstreams=[dead])
    answer = (await world.admin.get("/upstreams")).json
    assert answer["next_cursor"] is None
    upstreams = {u["name"]: u for u in answer["items"]}
    live = upstreams[world.upstream_name]
    assert (live["url"], live["default"], live["healthy"], live["error"]) == (
        world.upstream.url,
        True,
        True,
        None,
    )
    down = upstreams["dead.example"]
    assert (down["healthy"], down["default"], down["aliases"]) == (False, False, ["dead"])
    assert down["error"]


async def test_cache_statistics_and_purges(world: World) -> None:
    image = await world.push("library/demo", "1", world.images.image(4096))
    assert (await world.pull("library/demo", "1")).status == 200
    key = RepoKey(world.upstream_name, RepositoryName("library/demo"))
    source = await world.pullgate.services.gate.blob(key, Digest.parse(image.layer_digests[0]))
    await source.settle()

    stats = (await world.admin.get("/cache")).json
    assert stats["objects"]["manifest"] == {"objects": 1, "bytes": image.size}
    assert stats["objects"]["blob"]["objects"] == 1
    assert stats["stored_bytes"] == image.size + stats["objects"]["blob"]["bytes"]
    assert (stats["misses"]["blob"], stats["max_bytes"]) == (1, None)

    busy = await world.admin.post("/cache/purge", {"digest": image.layer_digests[0]})
    assert (busy.status, busy.error["code"]) == (409, "busy")  # being served: never removed
    everything = await world.admin.post("/cache/purge", {"target_bytes": 0})
    assert everything.json == {"freed_bytes": image.size, "stored_bytes": stats["stored_bytes"] - image.size}
    source.release()

    purged = await world.admin.post("/cache/purge", {"digest": image.layer_digests[0]})
    assert purged.json == {"freed_bytes": stats["objects"]["blob"]["bytes"], "stored_bytes": 0}
    assert (await world.admin.post("/cache/purge", {"digest": image.layer_digests[0]})).status == 404
    assert (await world.pull("library/demo", "1")).status == 200  # fetched again from upstream
    both = await world.admin.post("/cache/purge", {"digest": image.digest, "target_bytes": 0})
    assert both.status == 422
    events = await world.audited(2, kind="admin")
    assert [e["detail"]["action"] for e in events] == ["cache.purge", "cache.purge"]


async def test_tokens_create_list_revoke(world: World) -> None:
    created = await world.admin.post("/tokens", {"name": "deploy-job", "role": "auditor"})
    assert created.status == 201
    token = created.json["token"]
    assert token.startswith("pgt_")
    listed = (await world.admin.get("/tokens")).json["items"]
    assert [t["name"] for t in listed] == ["ci-admin", "ci-auditor", "deploy-job"]
    assert all("token" not in t for t in listed)
    assert token not in (await world.admin.get("/tokens")).text

    deploy = world.admin.as_(token)
    assert (await deploy.get("/rules")).status == 200
    assert (await deploy.delete(f"/tokens/{created.json['id']}")).status == 403
    assert (await world.admin.delete(f"/tokens/{created.json['id']}")).json == {
        "id": created.json["id"],
        "revoked": True,
    }
    assert (await deploy.get("/rules")).status == 401
    assert (await world.admin.delete(f"/tokens/{created.json['id']}")).status == 404
    revoked = [t for t in (await world.admin.get("/tokens")).json["items"] if t["name"] == "deploy-job"]
    assert revoked[0]["revoked_at"] is not None

    first = (await world.admin.get("/tokens", limit="2")).json
    rest = (await world.admin.get("/tokens", limit="2", cursor=first["next_cursor"])).json
    assert [t["name"] for t in first["items"] + rest["items"]] == ["ci-admin", "ci-auditor", "deploy-job"]
    unknown = await world.admin.get("/tokens", cursor=encode_cursor(["no-such-token"]))
    assert (unknown.status, unknown.error["field"]) == (422, "cursor")
    assert (await world.admin.post("/tokens", {"name": "x", "role": "root"})).error["field"] == "role"
    events = await world.audited(2, kind="admin")
    assert [e["detail"]["action"] for e in events] == ["token.revoke", "token.create"]
