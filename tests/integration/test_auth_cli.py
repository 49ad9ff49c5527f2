"""`pullgate robot ...` and `pullgate token ...` as an operator runs them (in-process `main`)."""

from __future__ import annotations

import asyncio
import getpass
import sqlite3
from pathlib import Path

import pytest

from db.robot_queries import RobotStore
from db.session import create_engine, session_factory
from db.token_queries import TokenStore
from proxy.cli import main


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pullgate.db"
    monkeypatch.setenv("PULLGATE_DATABASE__URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("PULLGATE_AUTH__KDF__LOG2_N", "10")
    monkeypatch.delenv("PULLGATE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config/pullgate.yaml here: embedded defaults and the env
    assert main(["migrate"]) == 0
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _verify(path: Path, name: str, secret: str) -> bool:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", pool_size=1)
    try:
        row = await RobotStore(session_factory(engine)).verify(name, secret)
        return row is not None and row.revoked_at is None
    finally:
        await engine.dispose()


def test_robot_commands(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, secret, err = _run(
        capsys,
        "robot",
        "create",
        "ci",
        "--scope",
        "127.0.0.1:5001:team/**",
        "--scope",
        "library/*",
        "--expires-in",
        "90d",
    )
    assert code == 0 and "shown only once" in err
    secret = secret.strip()
    assert secret.startswith("pgr_") and asyncio.run(_verify(database, "ci", secret))
    code, out, _ = _run(capsys, "robot", "list")
    assert code == 0 and "ci" in out and "active" in out and "127.0.0.1:5001:team/** *:library/*" in out
    assert f"owner={getpass.getuser()}@cli" in out and "expires=20" in out

    assert _run(capsys, "robot", "create", "ci", "--scope", "x")[0] == 1  # names are never reused
    code, _, err = _run(capsys, "robot", "create", "bad", "--scope", "docker.io:team//x")
    assert code == 2 and "empty path component" in err
    code, _, err = _run(capsys, "robot", "create", "Bad:Name", "--scope", "x")
    assert code == 2 and "robot name" in err

    code, rotated, _ = _run(capsys, "robot", "rotate", "ci")
    assert code == 0 and not asyncio.run(_verify(database, "ci", secret))
    assert asyncio.run(_verify(database, "ci", rotated.strip()))
    assert _run(capsys, "robot", "revoke", "ci")[0] == 0
    assert _run(capsys, "robot", "revoke", "ci")[0] == 1
    assert "revoked" in _run(capsys, "robot", "list")[1]
    with sqlite3.connect(database) as db:
        actions = [row[0] for row in db.execute("SELECT identity, detail FROM audit_events ORDER BY id")]
        details = " ".join(row[0] for row in db.execute("SELECT detail FROM audit_events"))
    assert actions == [f"cli:{getpass.getuser()}"] * 3
    assert (
        all(a in details for a in ("robot.create", "robot.rotate", "robot.revoke")) and secret not in details
    )


def test_token_expiry_and_legacy_tokens_in_the_cli(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, token, err = _run(
        capsys, "token", "create", "--role", "auditor", "--name", "ci", "--expires-in", "12h"
    )
    assert code == 0 and "expires 20" in err
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO api_tokens (id, name, role, token_hash, created_at) "
            "VALUES ('legacy', 'old', 'admin', 'abc', '2026-01-01 00:00:00')"
        )
    code, out, err = _run(capsys, "token", "list")
    lines = {line.split()[-1] if "legacy" not in line else "old": line for line in out.splitlines()}
    assert "(legacy: rotate)" in lines["old"] and "expires never" in lines["old"]
    assert "active" in lines["ci"] and "expires 20" in lines["ci"]
    assert "1 legacy token(s)" in err
    with pytest.raises(SystemExit) as exited:  # argparse refuses it before anything runs
        main(["token", "create", "--role", "admin", "--expires-in", "soon"])
    assert exited.value.code == 2 and "not a duration" in capsys.readouterr().err

    async def authenticate() -> bool:
        engine = create_engine(f"sqlite+aiosqlite:///{database}", pool_size=1)
        try:
            info = await TokenStore(session_factory(engine)).authenticate(token.strip())
            return info is not None and info.expires_at is not None
        finally:
            await engine.dispose()

    assert asyncio.run(authenticate())
