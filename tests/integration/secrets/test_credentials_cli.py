"""`pullgate upstream credentials ...` and `pullgate secrets ...` as an operator runs them."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.cli import main
from tests.integration.secrets.conftest import entries, execute, key_ring, stored_bytes

PASSWORD = "cli-Secret-7f3a9"


class Operator:
    def __init__(
        self, tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.tmp_path, self.url, self.capsys, self.monkeypatch = tmp_path, url, capsys, monkeypatch
        self.upstreams = [
            {"name": "registry.example", "url": "https://registry.example", "default": True},
            {"name": "ghcr.io", "url": "https://ghcr.io"},
        ]

    def run(
        self, *args: str, keys: str | None = None, stdin: str | None = None, **more: Any
    ) -> tuple[int, str, str]:
        document: dict[str, Any] = {"database": {"url": self.url}, "upstreams": self.upstreams, **more}
        if keys is not None:
            document["secrets"] = {"keys": keys}
        config = self.tmp_path / "pullgate.yaml"
        config.write_text(yaml.safe_dump(document))
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        code = main([*args, "--config", str(config)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


def test_set_list_rotate_delete(
    migrated_database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    op = Operator(tmp_path, migrated_database_url, capsys, monkeypatch)
    ring = entries(key_ring("k1", "k2"))
    code, out, _ = op.run(
        "upstream",
        "credentials",
        "set",
        "ghcr.io",
        "--username",
        "robot",
        "--password-stdin",
        keys=ring["k1"],
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and "stored (user robot, sealed with key 'k1')" in out
    secret_file = tmp_path / "token"
    secret_file.write_text("file-Secret-0c1d\r\n")
    code, _, _ = op.run(
        "upstream",
        "credentials",
        "set",
        "registry.example",
        "--username",
        "ci",
        "--password-file",
        str(secret_file),
        keys=ring["k1"],
    )
    assert code == 0
    code, listed, _ = op.run("upstream", "credentials", "list", keys=ring["k1"])
    assert code == 0 and [line.split()[:4] for line in listed.splitlines()] == [
        ["ghcr.io", "robot", "key", "k1"],
        ["registry.example", "ci", "key", "k1"],
    ]
    sealed = asyncio.run(stored_bytes(op.url))
    assert PASSWORD.encode() not in sealed and b"file-Secret-0c1d" not in sealed

    # A ring without k1 cannot rotate: it says which secret and key, and changes nothing.
    code, _, err = op.run("secrets", "rotate", keys=ring["k2"])
    assert code == 1 and "rotation aborted, nothing changed" in err
    assert "upstream ghcr.io (key id 'k1')" in err and "holds 'k2'" in err
    code, out, _ = op.run("secrets", "rotate", keys=f"{ring['k2']}\n{ring['k1']}")
    assert code == 0 and "2 stored secrets re-sealed under key 'k2', 0 already under it" in out
    assert asyncio.run(execute(op.url, "SELECT DISTINCT key_id FROM upstream_credentials")) == [("k2",)]

    code, out, _ = op.run("upstream", "credentials", "delete", "ghcr.io", keys=ring["k2"])
    assert code == 0 and "deleted" in out
    code, _, err = op.run("upstream", "credentials", "delete", "ghcr.io", keys=ring["k2"])
    assert code == 1 and "no credentials are stored for upstream 'ghcr.io'" in err

    audit = asyncio.run(execute(op.url, "SELECT identity, upstream, detail FROM audit_events ORDER BY id"))
    details = [json.loads(d) if isinstance(d, str) else d for _, _, d in audit]
    assert [d["action"] for d in details] == [
        "upstream.credentials.create",
        "upstream.credentials.create",
        "secrets.rotate",
        "upstream.credentials.delete",
    ]
    assert all(identity.startswith("cli:") for identity, _, _ in audit)
    assert PASSWORD not in str(audit) and "file-Secret" not in str(audit)
    assert all(PASSWORD not in text for text in (out, err, listed))


def test_refusals(
    migrated_database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    op = Operator(tmp_path, migrated_database_url, capsys, monkeypatch)
    ring = key_ring("k1")
    set_ghcr = ("upstream", "credentials", "set", "ghcr.io", "--username", "robot", "--password-stdin")
    code, _, err = op.run(*set_ghcr, stdin=PASSWORD)
    assert code == 2 and "no secrets key ring is configured" in err and "never stored in clear" in err
    code, _, err = op.run(
        "upstream",
        "credentials",
        "set",
        "nowhere.example",
        "--username",
        "u",
        "--password-stdin",
        keys=ring,
        stdin=PASSWORD,
    )
    assert code == 1 and "no upstream 'nowhere.example' is configured" in err
    code, _, err = op.run(*set_ghcr, keys=ring, stdin="")
    assert code == 2 and "password must be 1-" in err
    code, _, err = op.run(
        "upstream",
        "credentials",
        "set",
        "ghcr.io",
        "--username",
        "robot",
        "--password-file",
        str(tmp_path / "missing"),
        keys=ring,
    )
    assert code == 2 and "cannot read" in err
    code, _, err = op.run("secrets", "rotate")
    assert code == 2 and "no secrets key ring" in err
    assert asyncio.run(execute(op.url, "SELECT upstream FROM upstream_credentials")) == []


def test_generate_key_and_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secrets", "generate-key", "--id", "2026-12"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("2026-12:") and len(line.split(":", 1)[1]) == 44
    assert main(["secrets", "generate-key", "--id", "bad id"]) == 2

    config = tmp_path / "pullgate.yaml"
    ring = tmp_path / "ring"
    ring.write_text(f"{line}\n")
    ring.chmod(0o600)
    config.write_text(
        yaml.safe_dump(
            {
                "upstreams": [
                    {
                        "name": "a.io",
                        "url": "https://a.io",
                        "default": True,
                        "username": "u",
                        "password": "hunter2",
                    }
                ],
                "secrets": {"key_file": str(ring)},
            }
        )
    )
    assert main(["config", "check", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "warning: upstreams[0] (a.io): password is written in the configuration in clear" in captured.err
    assert "secrets key ring: 1 keys, primary '2026-12'" in captured.err
    assert "hunter2" not in captured.out + captured.err
    assert line.split(":", 1)[1] not in captured.out + captured.err
