"""No secret leaks: a whole session through a real `pullgate serve` process at log level debug.

Distinctive secrets — two upstream passwords (and a wrong one), every bearer token the token
server hands pullgate, the admin API token, the key ring's key, and the Basic headers made
from the passwords — must appear nowhere: not in stdout or stderr (debug lines and the JSON
access log included), not in any response body or header (registry errors, admin errors,
502s naming an upstream, /metrics, the audit log), not in `config check` or the CLI's
listing, not in the database files. The only place they may be is what the test itself
sent: the PUT bodies and the Authorization header.

SQLite, because its database is files whose bytes can be searched (WAL included); the raw
rows on PostgreSQL are searched in test_stored_credentials.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from db.migrate import upgrade
from proxy.cli import main
from tests.support.images import ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry, free_port, start_htpasswd_registry, start_token_registry
from tests.support.tokens import TokenServer

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Transcript:
    """Everything pullgate said, by where it said it."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def leaks(self, secret_values: dict[str, str]) -> list[str]:
        return [
            f"{name} in {where}"
            for where, text in self.texts
            for name, value in secret_values.items()
            if value in text
        ]


class Session:
    def __init__(self, base: str, admin_token: str, transcript: Transcript) -> None:
        self.base, self.admin_token, self.transcript = base, admin_token, transcript

    async def call(
        self,
        label: str,
        method: str,
        path: str,
        *,
        admin: bool = False,
        body: Any = None,
        accept: str | None = None,
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.admin_token}"} if admin else {}
        if accept:
            headers["Accept"] = accept
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, headers=headers, json=body) as resp,
        ):
            data = await resp.read()
            head = f"{resp.status} {resp.reason}\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        self.transcript.add(f"response {label}", head + "\n\n" + data.decode(errors="replace"))
        self.transcript.statuses[label] = resp.status
        return resp.status, data

    async def pull(self, label: str, repository: str, tag: str, ns: str | None = None) -> int:
        query = f"?ns={ns}" if ns else ""
        status, body = await self.call(
            f"{label} manifest", "GET", f"/v2/{repository}/manifests/{tag}{query}", accept=MANIFEST_ACCEPT
        )
        if status == 200:
            for layer in yaml.safe_load(body)["layers"]:
                blob_status, _ = await self.call(
                    f"{label} blob", "GET", f"/v2/{repository}/blobs/{layer['digest']}{query}"
                )
                assert blob_status == 200
        return status


@pytest.fixture
def world(
    tmp_path: Path, token_server: TokenServer
) -> Iterator[tuple[RunningRegistry, RunningRegistry, dict[str, str]]]:
    values = {
        "htpasswd password": f"LeakHt{secrets.token_hex(10)}",
        "wrong password": f"LeakWrong{secrets.token_hex(10)}",
        "token-flow password": f"LeakTok{secrets.token_hex(10)}",
    }
    token_server.allow_anonymous = False
    token_server.users = {"robot-tok": values["token-flow password"]}
    with (
        start_htpasswd_registry(
            tmp_path / "up", username="robot-ht", password=values["htpasswd password"]
        ) as basic,
        start_token_registry(tmp_path / "up", token_server) as bearer,
    ):
        bearer.credentials = ("robot-tok", values["token-flow password"])
        yield basic, bearer, values


async def test_no_secret_leaks_anywhere(
    world: tuple[RunningRegistry, RunningRegistry, dict[str, str]],
    token_server: TokenServer,
    tmp_path: Path,
    image_factory: ImageFactory,
    push_to,
    capsys: pytest.CaptureFixture[str],
) -> None:
    basic, bearer, values = world
    await push_to(basic, "library/demo", image_factory.image(layers=2), "1")
    await push_to(basic, "library/demo", image_factory.image(), "2")
    await push_to(bearer, "team/app", image_factory.image(layers=2), "1")
    transcript = Transcript()

    key_line = await asyncio.to_thread(
        _cli, capsys, transcript, "secrets", "generate-key", "--id", "k1", shown=False
    )
    key_file = tmp_path / "keys"
    key_file.write_text(key_line)
    key_file.chmod(0o600)
    data = tmp_path / "data"
    port = free_port()
    config = tmp_path / "pullgate.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen": f"127.0.0.1:{port}",
                "storage": {"path": str(data / "blobs")},
                "database": {"url": f"sqlite+aiosqlite:///{data / 'pullgate.db'}"},
                "upstreams": [
                    {"name": basic.host, "url": basic.url, "default": True},
                    {"name": bearer.host, "url": bearer.url},
                    {"name": "down.test", "url": f"http://127.0.0.1:{free_port()}"},
                ],
                "upstream_client": {"retries": 0, "connect_timeout": 2, "read_timeout": 5},
                "secrets": {"key_file": str(key_file), "refresh_interval": "0.2s"},
                "gate": {"audit_flush_interval": "0.1s"},
                "log": {"level": "debug", "access_log": True},
            }
        )
    )
    # Not `pullgate migrate` in this process: it would install its debug log handler here for good.
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{data / 'pullgate.db'}")
    admin_token = (
        await asyncio.to_thread(
            _cli,
            capsys,
            transcript,
            "token",
            "create",
            "--role",
            "admin",
            "--config",
            str(config),
            shown=False,
        )
    ).splitlines()[0]

    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "serve", "--config", str(config)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PULLGATE_")},
        stdout=(tmp_path / "serve.out").open("wb"),
        stderr=(tmp_path / "serve.err").open("wb"),
    )
    try:
        session = Session(f"http://127.0.0.1:{port}", admin_token, transcript)
        await _ready(session, process)
        await _drive(session, basic, bearer, values)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0, (tmp_path / "serve.err").read_text()[-3000:]

    await asyncio.to_thread(_cli, capsys, transcript, "config", "check", "--config", str(config))
    refused = await _serve_with_another_key(config, key_file, capsys, transcript)
    assert refused.returncode == 2, refused.stderr
    assert f"stored credentials of upstream {basic.host} (key id 'k1') cannot be decrypted" in refused.stderr
    await asyncio.to_thread(
        _cli, capsys, transcript, "upstream", "credentials", "list", "--config", str(config)
    )
    stderr = (tmp_path / "serve.err").read_text(errors="replace")
    transcript.add("serve stderr", stderr)
    transcript.add("serve stdout", (tmp_path / "serve.out").read_text(errors="replace"))
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        transcript.add(f"file {path.relative_to(tmp_path)}", path.read_bytes().decode("latin-1"))

    # The session did what it should, so the search below means something.
    statuses = transcript.statuses
    assert statuses["with the right password manifest"] == 200 and statuses["token flow manifest"] == 200
    assert statuses["with a wrong password manifest"] in (404, 502)
    assert statuses["upstream down manifest"] == 502 and statuses["token flow tags"] == 200
    assert statuses["token flow tags, wrong password"] >= 400
    assert token_server.tokens, "pullgate obtained bearer tokens"
    assert '"level": "debug"' in stderr and '"logger": "pullgate.access"' in stderr
    assert any(where.startswith("file data/pullgate.db") for where, _ in transcript.texts)

    key = key_line.split(":", 1)[1]
    searched = {
        **values,
        "key ring key": key,
        "key ring key (hex)": base64.b64decode(key).hex(),
        "admin token": admin_token,
        "admin token (body)": admin_token.removeprefix("pgt_"),
        "htpasswd Basic header": _basic("robot-ht", values["htpasswd password"]),
        "token-flow Basic header": _basic("robot-tok", values["token-flow password"]),
    }
    for number, token in enumerate(token_server.tokens):
        searched[f"bearer token {number}"] = token
        searched[f"bearer token {number} signature"] = token.rsplit(".", 1)[1]
    assert transcript.leaks(searched) == []


async def _drive(
    session: Session, basic: RunningRegistry, bearer: RunningRegistry, values: dict[str, str]
) -> None:
    allow = {
        "default_action": "deny",
        "rules": [{"id": "all", "match": {"repository": "**"}, "action": "allow"}],
    }
    await session.call("policy", "PUT", "/api/v1/policy", admin=True, body=allow)
    ht, tok = f"/api/v1/upstreams/{basic.host}/credentials", f"/api/v1/upstreams/{bearer.host}/credentials"
    await session.call("get empty", "GET", ht, admin=True)
    await session.call(
        "put wrong",
        "PUT",
        ht,
        admin=True,
        body={"username": "robot-ht", "password": values["wrong password"]},
    )
    await session.pull("with a wrong password", "library/demo", "1")
    await session.call(
        "put ht",
        "PUT",
        ht,
        admin=True,
        body={"username": "robot-ht", "password": values["htpasswd password"]},
    )
    await session.pull("with the right password", "library/demo", "1")
    await session.call(
        "put tok",
        "PUT",
        tok,
        admin=True,
        body={"username": "robot-tok", "password": values["token-flow password"]},
    )
    await session.pull("token flow", "team/app", "1", ns=bearer.host)
    await session.call("token flow tags", "GET", f"/v2/team/app/tags/list?ns={bearer.host}")
    await session.pull("token flow, unknown repository", "team/none", "1", ns=bearer.host)
    await session.pull("upstream down", "library/demo", "1", ns="down.test")
    # Admin errors, some of them carrying a password in the refused body.
    bad = {"username": "a:b", "password": values["htpasswd password"]}
    await session.call("invalid username", "PUT", ht, admin=True, body=bad)
    await session.call(
        "extra field", "PUT", ht, admin=True, body={**bad, "username": "ok", "x": values["wrong password"]}
    )
    await session.call("no token", "GET", ht)
    await session.call(
        "unknown upstream", "PUT", "/api/v1/upstreams/nope.example/credentials", admin=True, body=bad
    )
    for label, path in (
        ("get ht", ht),
        ("get tok", tok),
        ("upstreams", "/api/v1/upstreams"),
        ("tokens", "/api/v1/tokens"),
        ("openapi", "/api/v1/openapi.json"),
    ):
        await session.call(label, "GET", path, admin=True)
    await asyncio.sleep(0.3)  # pull audit records are batched
    await session.call("audit", "GET", "/api/v1/audit?limit=1000", admin=True)
    await session.call("metrics", "GET", "/metrics")
    await session.call("readyz", "GET", "/readyz")
    # The token service refusing a wrong password (tags always ask the upstream).
    await session.call(
        "put tok wrong",
        "PUT",
        tok,
        admin=True,
        body={"username": "robot-tok", "password": values["wrong password"]},
    )
    await session.call("token flow tags, wrong password", "GET", f"/v2/team/app/tags/list?ns={bearer.host}")
    await session.call("delete tok", "DELETE", tok, admin=True)


async def _serve_with_another_key(
    config: Path, key_file: Path, capsys: pytest.CaptureFixture[str], transcript: Transcript
) -> subprocess.CompletedProcess[str]:
    """`serve` after the key that sealed the stored credentials left the ring: it must refuse."""
    key_file.write_text(_cli(capsys, transcript, "secrets", "generate-key", "--id", "k2", shown=False))
    refused = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "proxy", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PULLGATE_")},
        check=False,
    )
    transcript.add("refused serve stderr", refused.stderr)
    transcript.add("refused serve stdout", refused.stdout)
    return refused


async def _ready(session: Session, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{session.base}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "pullgate did not become ready"
            await asyncio.sleep(0.1)


def _cli(capsys: pytest.CaptureFixture[str], transcript: Transcript, *args: str, shown: bool = True) -> str:
    """Run a `pullgate` command; its output joins the transcript (`shown=False`: only its stderr,
    for the commands whose one job is to print a secret once)."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    transcript.add(f"pullgate {' '.join(args[:3])} stderr", captured.err)
    if shown:
        transcript.add(f"pullgate {' '.join(args[:3])} stdout", captured.out)
    return captured.out.strip()


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()
