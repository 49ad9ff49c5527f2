"""pull_auth and auth settings: off by default, every problem reported at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.settings import ConfigError, load_settings


def test_pull_auth_is_off_by_default_and_the_defaults_are_sound() -> None:
    settings = load_settings(None, {})
    assert not settings.pull_auth.enabled and settings.pull_auth.anonymous == ()
    assert settings.auth.kdf.log2_n == 15 and settings.auth.rate_limit.enabled
    assert settings.pull_auth.signing_key() is None


def test_every_pull_auth_problem_is_reported_at_once(tmp_path: Path) -> None:
    short_key = tmp_path / "key"
    short_key.write_bytes(b"too short")
    config = tmp_path / "bad.yaml"
    config.write_text(
        f"""
pull_auth:
  enabled: true
  realm: "ftp://pullgate/auth"
  service: "has space"
  token_ttl: 2d
  anonymous: [{{registry: "a/b", repository: "team/**x"}}, {{registry: docker.io}}]
  signing_key_file: {short_key}
  revocation_check_interval: 0s
auth:
  kdf: {{log2_n: 9}}
  rate_limit: {{max_failures: 0, window: 0s}}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {})
    text = "\n".join(caught.value.problems)
    for field in (
        "pull_auth.realm",
        "pull_auth.service",
        "pull_auth.token_ttl",
        "pull_auth.anonymous.0.registry",
        "pull_auth.anonymous.0.repository",
        "pull_auth.anonymous.1.repository",
        "pull_auth.signing_key_file",
        "pull_auth.revocation_check_interval",
        "auth.kdf.log2_n",
        "auth.rate_limit.max_failures",
        "auth.rate_limit.window",
    ):
        assert field in text, (field, text)
    assert "holds 9 bytes" in text


def test_a_signing_key_file_and_anonymous_scopes(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"k" * 40 + b"\n")
    settings = load_settings(
        None,
        {
            "PULLGATE_PULL_AUTH__SIGNING_KEY_FILE": str(key),
            "PULLGATE_PULL_AUTH__ANONYMOUS": '[{registry: Docker.IO, repository: "library/*"}]',
        },
    )
    assert settings.pull_auth.signing_key() == b"k" * 40
    assert settings.pull_auth.anonymous[0].registry == "docker.io"
    missing = tmp_path / "none"
    with pytest.raises(ConfigError, match="signing_key_file"):
        load_settings(None, {"PULLGATE_PULL_AUTH__SIGNING_KEY_FILE": str(missing)})
