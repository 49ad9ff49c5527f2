"""The `pullgate` command as an operator runs it: a real process on a loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.support.cosign import generate_key, public_pem
from tests.support.images import ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry, free_port

ROOT = Path(__file__).resolve().parents[2]


def _pullgate(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_config_check_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: nowhere\ncache: {max_bytes: lots}\nupstreams: []\n")
    result = _pullgate("config", "check", "--config", str(bad))
    assert result.returncode == 2
    for problem in ("listen", "cache.max_bytes", "upstreams"):
        assert problem in result.stderr
    good = _pullgate("config", "check", "--config", str(ROOT / "config" / "pullgate.yaml"))
    assert good.returncode == 0 and '"listen": "127.0.0.1:5000"' in good.stdout
    env_bad = _pullgate("config", "check", env={"PULLGATE_CACHE__TAG_TTL": "soon"})
    assert env_bad.returncode == 2 and "cache.tag_ttl" in env_bad.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pg.db'}"
    result = _pullgate("migrate", env={"PULLGATE_DATABASE__URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pg.db").stat().st_size > 0


async def test_serve_on_embedded_defaults_pulls_and_stops_gracefully(
    tmp_path: Path, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image(500_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    port = free_port()
    env = {
        **os.environ,
        "PULLGATE_LISTEN": f"127.0.0.1:{port}",
        # Queued behind the answers (async), audit records would wait a minute for their
        # batch: only the graceful stop writes them.
        "PULLGATE_GATE__AUDIT_DURABILITY": "async",
        "PULLGATE_GATE__AUDIT_FLUSH_INTERVAL": "60s",
        "PULLGATE_UPSTREAMS": f'[{{name: "{upstream_registry.host}", url: "{upstream_registry.url}", default: true}}]',
    }
    # Run from an empty directory: the embedded defaults put everything under ./data.
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with session.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "pullgate did not become ready"
                await asyncio.sleep(0.2)
            url = f"{base}/v2/library/demo/manifests/1"
            # The embedded default policy denies what no rule allows, and says so.
            async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
                error = (await resp.json())["errors"][0]
                assert resp.status == 403 and error["code"] == "DENIED"
                assert (
                    "no policy rule matches" in error["message"]
                    and error["detail"]["decision_id"] in error["message"]
                )
            policy = tmp_path / "policy.yaml"
            policy.write_text("rules: [{id: demo, match: {repository: library/demo}, action: allow}]\n")
            applied = await asyncio.to_thread(
                _pullgate, "policy", "apply", "-f", str(policy), env=env, cwd=tmp_path
            )
            assert applied.returncode == 0 and "applied: version 2" in applied.stdout, applied.stderr
            await asyncio.sleep(1.2)  # the running server sees the new version within policy_refresh_interval
            async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
                assert resp.status == 200 and await resp.read() == image.manifest_bytes
                assert "X-Request-Id" in resp.headers
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert (tmp_path / "data" / "pullgate.db").is_file()
    assert any((tmp_path / "data" / "blobs" / "blobs").rglob("*"))
    assert '"logger": "pullgate.access"' in stderr and "/v2/library/demo/manifests/1" in stderr
    # The graceful stop wrote the audit queue out: both pulls (denied, then allowed) are there.
    with sqlite3.connect(tmp_path / "data" / "pullgate.db") as db:
        outcomes = [
            row[0] for row in db.execute("SELECT outcome FROM audit_events WHERE kind = 'pull' ORDER BY id")
        ]
    assert outcomes == ["deny", "allow"]


def test_trust_material_and_signature_requirements_from_files(tmp_path: Path) -> None:
    env = {"PULLGATE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"}
    assert _pullgate("migrate", env=env).returncode == 0
    key = tmp_path / "cosign.pub"
    key.write_text(public_pem(generate_key()))
    stored = _pullgate("trust", "put", "ci-key", "--kind", "public_key", "-f", str(key), env=env)
    assert stored.returncode == 0 and "public_key 'ci-key' stored" in stored.stdout, stored.stderr
    again = _pullgate("trust", "put", "ci-key", "--kind", "public_key", "-f", str(key), env=env)
    assert "already stored" in again.stdout
    wrong = tmp_path / "wrong.pem"
    wrong.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    refused = _pullgate("trust", "put", "bad", "--kind", "public_key", "-f", str(wrong), env=env)
    assert refused.returncode == 2 and "was not stored" in refused.stderr
    listed = _pullgate("trust", "list", env=env)
    assert "ci-key" in listed.stdout and "bad" not in listed.stdout

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "signature_requirements:\n"
        "  - {id: team, match: {repository: 'team/**'}, authorities: [{name: ci, key: {trust: ci-key}}]}\n"
    )
    applied = _pullgate("policy", "apply", "-f", str(policy), env=env)
    assert applied.returncode == 0 and "1 signature requirements" in applied.stdout, applied.stderr
    exported = _pullgate("policy", "export", env=env)
    assert '"signature_requirements"' in exported.stdout and '"trust": "ci-key"' in exported.stdout

    assert _pullgate("trust", "delete", "ci-key", env=env).returncode == 0
    assert _pullgate("trust", "delete", "ci-key", env=env).returncode == 1
