"""HTTPS on the listener: a real `pullgate serve` with a certificate from a test CA, pulled
from by skopeo trusting only that CA, reloaded with SIGHUP while connections stay open."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.listener.conftest import StartPullgate
from tests.integration.listener.wire import closed_by_server, connect, exchange, request_bytes
from tests.support.images import ImageFactory
from tests.support.proc import run_tool
from tests.support.pullgate import upstream_entry
from tests.support.pullgate_process import PullgateProcess
from tests.support.registry import RunningRegistry
from tests.support.tls import Issued, TestCA, peer_serial

ROOT = Path(__file__).resolve().parents[3]


async def _served_serial(pullgate: PullgateProcess, ca: TestCA) -> int:
    """The serial of the certificate a brand-new TLS connection is shown."""
    _, writer = await connect("127.0.0.1", pullgate.port, context=ca.client_context())
    try:
        return peer_serial(writer.get_extra_info("ssl_object"))
    finally:
        writer.close()


def _install(pair: Issued, cert_file: Path, key_file: Path) -> None:
    # As cert-manager or an operator would: new files renamed into place.
    for source, target in ((pair.cert_file, cert_file), (pair.key_file, key_file)):
        shutil.copyfile(source, target.with_suffix(".new"))
        os.replace(target.with_suffix(".new"), target)


async def _reload(pullgate: PullgateProcess, outcome: str, count: int) -> None:
    pullgate.send_signal(signal.SIGHUP)
    await pullgate.wait_for_log(
        lambda _: sum(outcome in line["msg"] for line in pullgate.log_lines()) >= count
    )


async def test_https_pull_and_certificate_reload_on_sighup(
    serve_pullgate: StartPullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    image = image_factory.image(300_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    ca = TestCA(tmp_path / "ca")
    live = tmp_path / "live"
    live.mkdir()
    cert_file, key_file = live / "server.pem", live / "server-key.pem"
    _install(ca.issue("first", serial=0x1001), cert_file, key_file)
    pullgate = await serve_pullgate(
        [upstream_entry(upstream_registry)],
        ca_file=ca.ca_file,
        server={
            "tls": {"cert_file": str(cert_file), "key_file": str(key_file)},
            "request_head_timeout": "2s",
        },
    )
    assert pullgate.url.startswith("https://")
    # A client that connects and never starts the handshake is cut at the request-head deadline.
    silent, _ = await connect("127.0.0.1", pullgate.port)
    out = tmp_path / "pulled"
    await run_tool(
        ["skopeo", "--insecure-policy", "copy", "--src-cert-dir", str(ca.directory),
         f"docker://{pullgate.host}/library/demo:1", f"dir:{out}"]
    )  # fmt: skip
    assert (out / "manifest.json").read_bytes() == image.manifest_bytes
    assert await _served_serial(pullgate, ca) == 0x1001
    assert await closed_by_server(silent) == b""

    # An open keep-alive connection, then new files and SIGHUP.
    reader, writer = await connect("127.0.0.1", pullgate.port, context=ca.client_context())
    assert (await exchange(reader, writer, request_bytes("GET", "/v2/"))).status == 200
    _install(ca.issue("second", serial=0x1002), cert_file, key_file)
    await _reload(pullgate, "TLS certificate reloaded", 1)
    assert await _served_serial(pullgate, ca) == 0x1002
    answer = await exchange(reader, writer, request_bytes("GET", "/v2/"))
    assert answer.status == 200 and "Connection" not in answer.headers  # not dropped, not closing
    assert peer_serial(writer.get_extra_info("ssl_object")) == 0x1001

    # Broken new pairs: each is refused, logged, and the second certificate keeps serving.
    other = ca.issue("other", serial=0x1003)
    expired = ca.issue("expired", serial=0x1004, expired=True)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    broken = [
        (other.cert_file, key_file, "does not belong"),  # the key of the second certificate
        (garbage, other.key_file, "holds no PEM certificate"),
        (expired.cert_file, expired.key_file, "expired on"),
    ]
    for count, (cert, key, problem) in enumerate(broken, start=1):
        shutil.copyfile(key, live / "next-key.pem")
        shutil.copyfile(cert, cert_file)
        os.replace(live / "next-key.pem", key_file)
        await _reload(pullgate, "TLS reload failed", count)
        failure = [line for line in pullgate.log_lines() if "TLS reload failed" in line["msg"]][-1]
        assert failure["level"] == "error" and problem in failure["msg"]
        assert await _served_serial(pullgate, ca) == 0x1002
    assert (await exchange(reader, writer, request_bytes("GET", "/v2/"))).status == 200

    # Admin answers carry HSTS over TLS; registry answers do not need it.
    admin = await exchange(reader, writer, request_bytes("GET", "/api/v1/openapi.json"))
    assert admin.status == 200 and admin.headers["Strict-Transport-Security"] == "max-age=31536000"
    registry = await exchange(reader, writer, request_bytes("GET", "/v2/"))
    assert "Strict-Transport-Security" not in registry.headers
    writer.close()


def test_bad_tls_settings_refuse_to_start_listing_every_problem(tmp_path: Path) -> None:
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    config = tmp_path / "bad.yaml"
    config.write_text(
        "server:\n"
        "  tls:\n"
        f"    cert_file: {tmp_path / 'missing.pem'}\n"
        f"    key_file: {not_a_key}\n"
        "    min_version: 1.1\n"
        "    ciphers: NOT-A-CIPHER\n"
    )
    result = _serve(config)
    assert result.returncode == 2
    for problem in (
        "server.tls.cert_file: " + str(tmp_path / "missing.pem") + " does not exist",
        f"server.tls.key_file: {not_a_key} holds no PEM private key",
        "server.tls.min_version",
        "server.tls.ciphers: 'NOT-A-CIPHER' selects no cipher suite",
    ):
        assert problem in result.stderr, result.stderr
    # A key that does not match its certificate, and an expired one: tests/unit/test_server_settings.py.


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("PULLGATE_")},
        check=False,
    )
