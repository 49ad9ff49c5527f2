"""Key rotation end to end, and stored secrets a replica cannot open: at start (refused) and
while running (that upstream unusable, the others not)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.cli import main
from proxy.gate.credential_sync import CredentialsUnusable
from tests.integration.secrets.conftest import clients, entries, execute, key_ring, pull
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry


def cli(tmp_path: Path, url: str, upstreams: list[dict[str, Any]], keys: str, *args: str) -> int:
    config = tmp_path / "cli.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": url}, "upstreams": upstreams, "secrets": {"keys": keys}})
    )
    return main([*args, "--config", str(config)])


async def test_rotate_to_a_new_key_then_drop_the_old_one(
    make_pullgate: MakePullgate,
    htpasswd_registry,
    image_factory: ImageFactory,
    push_to,
    app_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for tag in ("1", "2", "3"):
        await push_to(htpasswd_registry, "library/demo", image_factory.image(), tag)
    user, password = htpasswd_registry.credentials
    ring = entries(key_ring("k1", "k2", "k3"))
    upstreams = [upstream_entry(htpasswd_registry)]
    path = f"/upstreams/{htpasswd_registry.host}/credentials"
    # A replica still on the old ring, which a rotation leaves behind (the runbook's warning).
    old = await make_pullgate(upstreams, secrets={"keys": ring["k1"], "refresh_interval": 0.1})
    api = await clients(old)
    await api.admin.put(path, {"username": user, "password": password})
    assert (await pull(old.url, "library/demo", "1")).status == 200

    rotated_ring = f"{ring['k2']}\n{ring['k1']}"
    rotate = await asyncio.to_thread(
        cli, tmp_path, app_database, upstreams, rotated_ring, "secrets", "rotate"
    )
    assert (
        rotate == 0
        and "1 stored secrets re-sealed under key 'k2', 0 already under it" in capsys.readouterr().out
    )
    again = await asyncio.to_thread(cli, tmp_path, app_database, upstreams, rotated_ring, "secrets", "rotate")
    assert (
        again == 0
        and "0 stored secrets re-sealed under key 'k2', 1 already under it" in capsys.readouterr().out
    )
    assert await execute(app_database, "SELECT key_id FROM upstream_credentials") == [("k2",)]

    # The old key removed: a replica with only the new key starts and pulls.
    new = await make_pullgate(upstreams, secrets={"keys": ring["k2"]}, policy=None)
    assert (await pull(new.url, "library/demo", "2")).status == 200

    # The replica left on the old ring notices within its refresh interval: that upstream
    # becomes unusable there, with an answer naming it and the key id.
    started = time.monotonic()
    while (view := (await api.admin.get(path)).json)["in_use"] != "unusable":
        assert time.monotonic() - started < 5, view
        await asyncio.sleep(0.05)
    assert "'k2'" in view["problem"] and htpasswd_registry.host in view["problem"]
    refused = await pull(old.url, "library/demo", "3")
    assert refused.status == 502 and refused.error["code"] == "UPSTREAM_ERROR"
    message = str(refused.error["message"])
    assert htpasswd_registry.host in message and "key id 'k2'" in message and password not in message
    health = (await api.admin.get("/upstreams")).json["items"][0]
    assert not health["healthy"] and "key id 'k2'" in health["error"]

    # A ring holding neither key: serve refuses to start, naming the upstream and key id.
    with pytest.raises(CredentialsUnusable) as caught:
        await make_pullgate(upstreams, secrets={"keys": ring["k3"]}, policy=None)
    (problem,) = caught.value.problems
    assert f"upstream {htpasswd_registry.host} (key id 'k2')" in problem and "holds 'k3'" in problem
    with pytest.raises(CredentialsUnusable, match="no key ring is configured"):
        await make_pullgate(upstreams, policy=None)


async def test_altered_rows_are_refused_at_start(
    make_pullgate: MakePullgate, htpasswd_registry, app_database: str
) -> None:
    user, password = htpasswd_registry.credentials
    ring = key_ring("k1")
    upstreams = [
        upstream_entry(htpasswd_registry),
        upstream_entry("http://127.0.0.1:9", name="other.test", default=False),
    ]
    pullgate = await make_pullgate(upstreams, secrets={"keys": ring})
    api = await clients(pullgate)
    await api.admin.put(
        f"/upstreams/{htpasswd_registry.host}/credentials", {"username": user, "password": password}
    )
    ((sealed,),) = await execute(app_database, "SELECT sealed FROM upstream_credentials")
    flipped = bytes([*sealed[:-1], sealed[-1] ^ 1])
    alterations = [
        ("UPDATE upstream_credentials SET sealed = :value", {"value": flipped}),
        ("UPDATE upstream_credentials SET sealed = :value, username = 'mallory'", {"value": sealed}),
        ("UPDATE upstream_credentials SET username = :value, upstream = 'other.test'", {"value": user}),
    ]
    for statement, params in alterations:
        await execute(app_database, statement, **params)
        with pytest.raises(CredentialsUnusable, match="does not authenticate") as caught:
            await make_pullgate(upstreams, secrets={"keys": ring}, policy=None)
        assert password not in str(caught.value)
