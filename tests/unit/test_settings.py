from pathlib import Path

import pytest

from proxy.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_defaults_file_is_valid_and_matches_code_defaults() -> None:
    from_file = load_settings(ROOT / "config" / "pullgate.yaml", {})
    assert from_file == load_settings(None, {})
    assert from_file.listen == "127.0.0.1:5000"
    assert from_file.default_upstream.is_docker_hub
    assert from_file.database.migrate_on_start


def test_env_overrides_nested_keys_with_yaml_values() -> None:
    settings = load_settings(
        None,
        {
            "PULLGATE_LISTEN": "0.0.0.0:8080",
            "PULLGATE_CACHE__MAX_BYTES": "2GiB",
            "PULLGATE_CACHE__TAG_TTL": "5m",
            "PULLGATE_UPSTREAMS": '[{name: "127.0.0.1:5001", url: "http://127.0.0.1:5001", default: true}]',
            "PULLGATE_CONFIG": "ignored.yaml",
        },
    )
    assert settings.listen_port == 8080
    assert settings.cache.max_bytes == 2 * 1024**3
    assert settings.cache.tag_ttl == 300
    assert settings.default_upstream.name == "127.0.0.1:5001"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        """
listen: nowhere
cache: {max_bytes: lots, tag_ttl: -1}
database: {url: "mysql://x"}
upstreams:
  - {name: "Docker.IO", url: "ftp://x", default: true}
  - {name: b.io, url: "https://user:pw@b.io", default: true, password: x}
typo: 1
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {})
    text = "\n".join(caught.value.problems)
    for expected in [
        "listen",
        "cache.max_bytes",
        "cache.tag_ttl",
        "database.url",
        "upstreams.0.name",
        "upstreams.0.url",
        "upstreams.1.url",
        "typo",
    ]:
        assert expected in text, expected
    assert len(caught.value.problems) >= 8


def test_one_default_upstream_and_unique_names() -> None:
    with pytest.raises(ConfigError, match="exactly one upstream must be default"):
        load_settings(None, {"PULLGATE_UPSTREAMS": "[{name: a.io, url: 'https://a.io'}]"})
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(
            None,
            {
                "PULLGATE_UPSTREAMS": "[{name: a.io, url: 'https://a.io', default: true},"
                " {name: b.io, url: 'https://b.io', aliases: [a.io]}]"
            },
        )


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", {})
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad, {})
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(bad, {})


def test_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t\n")
    settings = load_settings(
        None,
        {
            "PULLGATE_UPSTREAMS": f"[{{name: a.io, url: 'https://a.io', default: true, username: u, password_file: {secret}}}]"
        },
    )
    upstream = settings.default_upstream
    assert upstream.secret() == "s3cr3t"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in settings.model_dump_json()
    inline = load_settings(
        None,
        {
            "PULLGATE_UPSTREAMS": "[{name: a.io, url: 'https://a.io', default: true, username: u, password: hunter2}]"
        },
    )
    assert "hunter2" not in repr(inline) and "hunter2" not in inline.model_dump_json()


def test_console_follows_the_admin_api_and_needs_it() -> None:
    assert load_settings(None, {}).console_enabled
    off = load_settings(None, {"PULLGATE_ADMIN__ENABLED": "false"})
    assert not off.console_enabled and off.decision_url_base is None
    assert not load_settings(None, {"PULLGATE_UI__ENABLED": "false"}).console_enabled
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {"PULLGATE_ADMIN__ENABLED": "false", "PULLGATE_UI__ENABLED": "true"})
    assert any("built on the admin API" in p for p in refused.value.problems)


def test_console_public_url_makes_decision_links() -> None:
    settings = load_settings(None, {"PULLGATE_UI__PUBLIC_URL": "https://pullgate.example.com/"})
    assert settings.decision_url_base == "https://pullgate.example.com/ui/#/decisions/"
    assert load_settings(None, {}).decision_url_base is None
    hidden = load_settings(
        None, {"PULLGATE_UI__PUBLIC_URL": "https://pullgate.example.com", "PULLGATE_UI__ENABLED": "false"}
    )
    assert hidden.decision_url_base is None  # no console, no link to it
    for bad in ("pullgate.example.com", "ftp://x", "https://u:p@x", "https://x/?q=1", "https://x/#f"):
        with pytest.raises(ConfigError) as refused:
            load_settings(None, {"PULLGATE_UI__PUBLIC_URL": bad})
        assert refused.value.problems[0].startswith("ui.public_url"), bad
