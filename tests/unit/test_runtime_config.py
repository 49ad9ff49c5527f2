"""`pullgate runtime-config`: every generator's output parsed back (TOML, JSON) and checked."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import pytest

from proxy.runtime_config import (
    PullgateURL,
    RuntimeConfigError,
    add_runtime_config_command,
    containerd_hosts,
    daemon_json,
    parse_pullgate_url,
    parse_registries,
    path_segment,
    registries_conf,
    run_runtime_config,
    runtime_notes,
)

PLAIN = PullgateURL("http", "pullgate.internal:5000")
TLS = PullgateURL("https", "pullgate.internal")


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config")  # as proxy.cli adds it to every command


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_runtime_config_command(parser.add_subparsers(dest="command"), _config_option)
    return run_runtime_config(parser.parse_args(["runtime-config", *argv]))


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "scheme", "netloc"),
    [
        ("http://pullgate.internal:5000", "http", "pullgate.internal:5000"),
        ("https://Pullgate.Example.COM/", "https", "pullgate.example.com"),
        ("http://10.0.0.7:30500", "http", "10.0.0.7:30500"),
        ("http://[fd00::7]:5000", "http", "[fd00::7]:5000"),
    ],
)
def test_url_is_normalised(text: str, scheme: str, netloc: str) -> None:
    assert parse_pullgate_url(text) == PullgateURL(scheme, netloc)


@pytest.mark.parametrize(
    "text",
    [
        "pullgate:5000",  # no scheme
        "ftp://pullgate",
        "http://",
        "http://pullgate:99999",
        "http://pullgate:0",
        "http://pullgate:port",
        "http://pullgate/v2",  # the API lives at the root
        "http://pullgate?x=1",
        "http://user:pw@pullgate",
        "http://pull_gate",
    ],
)
def test_bad_urls_are_refused(text: str) -> None:
    with pytest.raises(RuntimeConfigError, match="--url"):
        parse_pullgate_url(text)


def test_registries_are_split_deduplicated_and_kept_in_order() -> None:
    assert parse_registries(" docker.io,ghcr.io,,docker.io, 127.0.0.1:5001") == (
        "docker.io",
        "ghcr.io",
        "127.0.0.1:5001",
    )


@pytest.mark.parametrize(
    "text", ["Docker.io", "docker.io/library", "-bad.io", "reg:0", "reg:70000", "http://ghcr.io", ",", ""]
)
def test_bad_registries_are_refused(text: str) -> None:
    with pytest.raises(RuntimeConfigError):
        parse_registries(text)


def test_tls_options_need_an_https_url() -> None:
    with pytest.raises(RuntimeConfigError, match="https"):
        containerd_hosts(PLAIN, ["docker.io"], insecure=True)
    with pytest.raises(RuntimeConfigError, match="https"):
        registries_conf(PLAIN, ["docker.io"], ca_file="/etc/ca.pem")


# -- containerd ----------------------------------------------------------------------------------
def test_containerd_has_one_file_per_registry_and_a_default() -> None:
    files = containerd_hosts(PLAIN, ["docker.io", "127.0.0.1:5001"])
    assert set(files) == {
        "certs.d/docker.io/hosts.toml",
        "certs.d/127.0.0.1:5001/hosts.toml",
        "certs.d/_default/hosts.toml",
    }
    for text in files.values():
        parsed = tomllib.loads(text)
        # pullgate is the server and the only host: nothing to fall back to.
        assert parsed == {
            "server": "http://pullgate.internal:5000",
            "host": {"http://pullgate.internal:5000": {"capabilities": ["pull", "resolve"]}},
        }
        assert 'plugins."io.containerd.grpc.v1.cri".registry' in text and "config_path" in text


def test_containerd_tls_options() -> None:
    files = containerd_hosts(TLS, ["ghcr.io"], ca_file="/etc/pullgate/ca.pem")
    host = tomllib.loads(files["certs.d/ghcr.io/hosts.toml"])["host"]["https://pullgate.internal"]
    assert host == {"capabilities": ["pull", "resolve"], "ca": "/etc/pullgate/ca.pem"}
    insecure = tomllib.loads(containerd_hosts(TLS, ["ghcr.io"], insecure=True)["certs.d/_default/hosts.toml"])
    assert insecure["host"]["https://pullgate.internal"]["skip_verify"] is True


# -- CRI-O / podman --------------------------------------------------------------------------------
def test_registries_conf_rewrites_every_registry_to_pullgate() -> None:
    files = registries_conf(PLAIN, ["docker.io", "ghcr.io", "127.0.0.1:5001"])
    assert list(files) == ["registries.conf"]
    parsed = tomllib.loads(files["registries.conf"])
    assert parsed["unqualified-search-registries"] == ["docker.io", "ghcr.io", "127.0.0.1:5001"]
    rewrites = {r["prefix"]: r for r in parsed["registry"] if "prefix" in r}
    assert rewrites["docker.io"] == {
        "prefix": "docker.io",
        "location": "pullgate.internal:5000/docker.io",
        "insecure": True,
    }
    assert rewrites["ghcr.io"]["location"] == "pullgate.internal:5000/ghcr.io"
    assert rewrites["127.0.0.1:5001"]["location"] == "pullgate.internal:5000/127.0.0.1-5001"
    # A rewrite, never a mirror: mirrors fall back to the real registry.
    assert all("mirror" not in r for r in parsed["registry"])
    assert {"location": "pullgate.internal:5000", "insecure": True} in parsed["registry"]
    assert "NOT covered" in files["registries.conf"]


def test_registries_conf_refuses_to_rewrite_pullgate_to_itself() -> None:
    with pytest.raises(RuntimeConfigError, match="pullgate itself"):
        registries_conf(PLAIN, ["docker.io", "pullgate.internal:5000"])


def test_registries_conf_over_tls_is_secure_unless_asked() -> None:
    parsed = tomllib.loads(registries_conf(TLS, ["docker.io"])["registries.conf"])
    assert all("insecure" not in r for r in parsed["registry"])
    parsed = tomllib.loads(registries_conf(TLS, ["docker.io"], insecure=True)["registries.conf"])
    assert all(r["insecure"] is True for r in parsed["registry"])


def test_path_segment_is_a_valid_repository_component() -> None:
    assert path_segment("ghcr.io") == "ghcr.io"
    assert path_segment("registry.local:5000") == "registry.local-5000"


# -- Docker ----------------------------------------------------------------------------------------
def test_daemon_json_is_a_mirror_for_docker_hub() -> None:
    assert json.loads(daemon_json(PLAIN, ["docker.io"])["daemon.json"]) == {
        "registry-mirrors": ["http://pullgate.internal:5000"],
        "insecure-registries": ["pullgate.internal:5000"],
    }
    assert json.loads(daemon_json(TLS, ["docker.io"])["daemon.json"]) == {
        "registry-mirrors": ["https://pullgate.internal"]
    }


def test_docker_notes_say_it_is_advisory() -> None:
    notes = " ".join(runtime_notes("docker", PLAIN, ["docker.io", "ghcr.io"]))
    assert "falls back" in notes or "pulls from the real registry" in notes
    assert "docker.io only" in notes and "egress" in notes and "ghcr.io" in notes


def test_notes_name_aliases_and_ca_locations() -> None:
    notes = " ".join(runtime_notes("podman", TLS, ["127.0.0.1:5001"], "/ca.pem"))
    assert "aliases: [127.0.0.1-5001]" in notes
    assert "/etc/containers/certs.d/pullgate.internal/ca.crt" in notes


# -- the command -----------------------------------------------------------------------------------
def test_command_prints_a_single_file_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("docker", "--url", "http://pullgate:5000", "--config", "ignored.yaml") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["registry-mirrors"] == ["http://pullgate:5000"]
    assert "MIRROR" in err and "egress" in err


def test_command_prints_several_files_with_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("containerd", "--url", "http://pullgate:5000", "--registries", "docker.io,ghcr.io") == 0
    out = capsys.readouterr().out
    assert out.count('server = "http://pullgate:5000"') == 3
    assert "# ===== certs.d/_default/hosts.toml =====" in out


def test_command_writes_under_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("crio", "--url", "https://pullgate", "--ca-file", "/ca.pem", "--output", str(tmp_path)) == 0
    parsed = tomllib.loads((tmp_path / "registries.conf").read_text())
    assert parsed["registry"][0] == {"prefix": "docker.io", "location": "pullgate/docker.io"}
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("containerd", "--url", "pullgate:5000"),
        ("podman", "--url", "http://pullgate", "--registries", "Bad!"),
        ("docker", "--url", "http://pullgate", "--insecure"),
    ],
)
def test_command_refuses_bad_values_with_status_2(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("pullgate runtime-config: ")


def test_command_reports_an_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run("docker", "--url", "http://pullgate", "--output", str(blocker / "sub")) == 1
    assert "cannot write" in capsys.readouterr().err
