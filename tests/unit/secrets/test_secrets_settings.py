"""The `secrets` settings: a key ring from a file or the environment, validated at start-up."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from proxy.secrets import generate_key
from proxy.settings import ConfigError, load_settings


def test_key_file_and_environment_keys(tmp_path: Path) -> None:
    ring = tmp_path / "keys"
    ring.write_text(f"# primary first\n{generate_key('k2')}\n{generate_key('k1')}\n")
    ring.chmod(0o600)
    from_file = load_settings(None, {"PULLGATE_SECRETS__KEY_FILE": str(ring)})
    keys = from_file.secrets.key_ring()
    assert keys is not None and keys.ids == ("k2", "k1") and from_file.secrets.configured
    assert from_file.warnings() == []

    env = load_settings(None, {"PULLGATE_SECRETS__KEYS": f"{generate_key('a')},{generate_key('b')}"})
    keys = env.secrets.key_ring()
    assert keys is not None and keys.ids == ("a", "b")
    as_list = load_settings(
        None, {"PULLGATE_SECRETS__KEYS": f"['{generate_key('a')}', '{generate_key('b')}']"}
    )
    assert as_list.secrets.key_ring() is not None

    none = load_settings(None, {})
    assert none.secrets.key_ring() is None and not none.secrets.configured


def test_key_ring_problems_are_reported_with_every_other_problem(tmp_path: Path) -> None:
    short = base64.b64encode(os.urandom(16)).decode()
    env = {
        "PULLGATE_LISTEN": "nowhere",
        "PULLGATE_SECRETS__KEY_FILE": str(tmp_path / "missing"),
        "PULLGATE_SECRETS__REFRESH_INTERVAL": "0",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)
    problems = caught.value.problems
    assert any(p.startswith("listen:") for p in problems)
    assert any(p.startswith("secrets.key_file:") and "cannot read" in p for p in problems)
    assert any(p.startswith("secrets.refresh_interval:") for p in problems)

    env = {"PULLGATE_SECRETS__KEYS": f"a:{short},{generate_key('b')},{generate_key('b')}"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)
    (problem,) = caught.value.problems
    assert problem.startswith("secrets.keys: invalid key ring:")
    assert "the key is 16 bytes" in problem and "key id 'b' is used twice" in problem
    assert short not in str(caught.value)


def test_one_source_and_text_only(tmp_path: Path) -> None:
    ring = tmp_path / "keys"
    ring.write_text(generate_key("k1"))
    both = {"PULLGATE_SECRETS__KEY_FILE": str(ring), "PULLGATE_SECRETS__KEYS": generate_key("k2")}
    with pytest.raises(ConfigError, match="not both"):
        load_settings(None, both)
    with pytest.raises(ConfigError, match=r"secrets\.keys: must be text"):
        load_settings(None, {"PULLGATE_SECRETS__KEYS": "{a: 1}"})
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not a text file"):
        load_settings(None, {"PULLGATE_SECRETS__KEY_FILE": str(binary)})


def test_keys_stay_out_of_reprs_dumps_and_warnings(tmp_path: Path) -> None:
    line = generate_key("k1")
    material = line.split(":", 1)[1]
    settings = load_settings(None, {"PULLGATE_SECRETS__KEYS": line})
    assert material not in repr(settings) and material not in settings.model_dump_json()
    assert material not in repr(settings.secrets.key_ring())
    ring = tmp_path / "keys"
    ring.write_text(line)
    ring.chmod(0o644)
    readable = load_settings(None, {"PULLGATE_SECRETS__KEY_FILE": str(ring)})
    assert readable.warnings() == [f"secrets.key_file {ring} is readable by other users (mode 644)"]


def test_a_plain_password_in_the_settings_is_pointed_out(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t\n")
    upstreams = (
        "[{name: a.io, url: 'https://a.io', default: true, username: u, password: hunter2},"
        f" {{name: b.io, url: 'https://b.io', username: u, password_file: {secret}}}]"
    )
    (warning,) = load_settings(None, {"PULLGATE_UPSTREAMS": upstreams}).warnings()
    assert warning.startswith("upstreams[0] (a.io): password is written in the configuration in clear")
    assert "hunter2" not in warning
