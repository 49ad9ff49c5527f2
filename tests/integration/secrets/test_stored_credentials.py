"""Upstream credentials stored through the admin API: used at once, sealed in the database,
audited without the secret, switched without a restart, on every replica."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from tests.integration.secrets.conftest import clients, execute, key_ring, pull, stored_bytes
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.registry import start_htpasswd_registry, start_token_registry
from tests.support.tokens import TokenServer


async def test_set_through_the_api_pull_at_once_stored_sealed_and_audited(
    make_pullgate: MakePullgate, tmp_path: Path, image_factory: ImageFactory, push_to, app_database: str
) -> None:
    password = f"pw-{secrets.token_hex(12)}"
    with start_htpasswd_registry(tmp_path / "world", username="robot", password=password) as registry:
        for tag in ("1", "2", "3"):
            await push_to(registry, "library/demo", image_factory.image(layers=2), tag)
        pullgate = await make_pullgate([upstream_entry(registry)], secrets={"keys": key_ring("k1")})
        api = await clients(pullgate)
        path = f"/upstreams/{registry.host}/credentials"

        assert (await pull(pullgate.url, "library/demo", "1")).status == 404  # anonymous: refused upstream
        empty = await api.auditor.get(path)
        assert empty.json | {"upstream": None} == {
            "upstream": None,
            "stored": False,
            "username": None,
            "password_set": False,
            "key_id": None,
            "created_at": None,
            "updated_at": None,
            "in_use": "none",
            "problem": None,
        }

        wrong = await api.admin.put(path, {"username": "robot", "password": "not-the-password"})
        assert wrong.status == 201 and wrong.headers["Location"] == f"/api/v1{path}"
        assert (await pull(pullgate.url, "library/demo", "1")).status == 404
        right = await api.admin.put(path, {"username": "robot", "password": password})
        assert right.status == 200 and password not in right.text
        view = (await api.auditor.get(path)).json
        assert (view["stored"], view["username"], view["password_set"]) == (True, "robot", True)
        assert (view["key_id"], view["in_use"], view["problem"]) == ("k1", "stored", None)
        pulled = await pull(pullgate.url, "library/demo", "1")
        assert pulled.status == 200 and len(pulled.blobs) == 2

        sealed = await stored_bytes(app_database)
        assert b"robot" in sealed, "the raw rows were read"
        assert password.encode() not in sealed and b"not-the-password" not in sealed

        deleted = await api.admin.delete(path)
        assert deleted.status == 200 and (deleted.json["stored"], deleted.json["in_use"]) == (False, "none")
        assert (await pull(pullgate.url, "library/demo", "2")).status == 404
        assert (await api.admin.delete(path)).status == 404

        events = (await api.auditor.get("/audit", kind="admin")).json["items"]
        actions = [(e["detail"]["action"], e["upstream"], e["detail"]["key_id"]) for e in events]
        assert sorted(actions) == sorted(
            [
                ("upstream.credentials.create", registry.host, "k1"),
                ("upstream.credentials.update", registry.host, "k1"),
                ("upstream.credentials.delete", registry.host, "k1"),
            ]
        )
        assert all(e["identity"] == "token:secrets-admin" for e in events)
        assert password not in str(events) and "not-the-password" not in str(events)


async def test_a_new_account_drops_the_cached_bearer_tokens(
    make_pullgate: MakePullgate,
    tmp_path: Path,
    token_server: TokenServer,
    image_factory: ImageFactory,
    push_to,
) -> None:
    token_server.allow_anonymous = False
    token_server.users["bob"] = "builder"
    with start_token_registry(tmp_path / "private", token_server) as registry:
        registry.credentials = ("alice", "wonderland")
        await push_to(registry, "team/app", image_factory.image(), "1")
        await push_to(registry, "team/app", image_factory.image(), "2")
        pullgate = await make_pullgate([upstream_entry(registry)], secrets={"keys": key_ring("k1")})
        api = await clients(pullgate)
        path = f"/upstreams/{registry.host}/credentials"
        await api.admin.put(path, {"username": "alice", "password": "wonderland"})
        assert (await pull(pullgate.url, "team/app", "1")).status == 200
        issued = token_server.issued

        await api.admin.put(path, {"username": "bob", "password": "builder"})
        assert (await pull(pullgate.url, "team/app", "2")).status == 200
        # The same repository scope: without the change, alice's cached token would have served.
        assert token_server.issued == issued + 1
        assert (await api.auditor.get(path)).json["username"] == "bob"


async def test_a_change_reaches_another_replica_within_the_refresh_interval(
    make_pullgate: MakePullgate, htpasswd_registry, image_factory: ImageFactory, push_to
) -> None:
    await push_to(htpasswd_registry, "library/demo", image_factory.image(), "1")
    user, password = htpasswd_registry.credentials
    shared = {"keys": key_ring("k1"), "refresh_interval": 0.2}
    upstreams = [upstream_entry(htpasswd_registry)]
    first = await make_pullgate(upstreams, secrets=shared)
    second = await make_pullgate(upstreams, secrets=shared, policy=None)  # same database and policy
    assert (await pull(second.url, "library/demo", "1")).status == 404

    api = await clients(first)
    await api.admin.put(
        f"/upstreams/{htpasswd_registry.host}/credentials", {"username": user, "password": password}
    )
    started = time.monotonic()
    while (status := (await pull(second.url, "library/demo", "1")).status) != 200:
        assert time.monotonic() - started < 5, f"the other replica still answers {status}"
        await asyncio.sleep(0.05)


async def test_refused_without_a_key_ring_and_for_bad_input(
    make_pullgate: MakePullgate, htpasswd_registry, app_database: str
) -> None:
    host = htpasswd_registry.host
    plain = await make_pullgate([upstream_entry(htpasswd_registry)])
    api = await clients(plain)
    refused = await api.admin.put(
        f"/upstreams/{host}/credentials", {"username": "alice", "password": "wonderland"}
    )
    assert refused.status == 409 and refused.error["code"] == "not_configured"
    assert "never stored in clear" in refused.error["message"] and "wonderland" not in refused.text
    assert await execute(app_database, "SELECT upstream FROM upstream_credentials") == []

    keyed = await make_pullgate([upstream_entry(htpasswd_registry)], secrets={"keys": key_ring("k1")})
    api = await clients(keyed)
    path = f"/upstreams/{host}/credentials"
    cases = [
        (path, {"username": "a:b", "password": "wonderland"}, 422, "username"),
        (path, {"username": "alice", "password": "wonderland\n"}, 422, "password"),
        (path, {"username": "alice", "password": ""}, 422, "password"),
        (path, {"username": "alice", "password": "wonderland", "extra": 1}, 422, "extra"),
        (path, {"password": "wonderland"}, 422, "username"),
        (
            "/upstreams/unknown.example/credentials",
            {"username": "alice", "password": "wonderland"},
            404,
            None,
        ),
    ]
    for where, body, status, field in cases:
        answer = await api.admin.put(where, body)
        assert (answer.status, answer.error["field"]) == (status, field), answer.text
        assert "wonderland" not in answer.text
    forbidden = await api.auditor.put(path, {"username": "alice", "password": "wonderland"})
    assert forbidden.status == 403
    assert (await api.admin.get("/upstreams/unknown.example/credentials")).status == 404
    assert await execute(app_database, "SELECT upstream FROM upstream_credentials") == []
