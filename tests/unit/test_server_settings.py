"""The `server:` section: TLS files checked at start-up with every problem listed, listener
limits validated, and the TLS context pullgate builds from them."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from proxy.serve import FD_RESERVE, connection_cap
from proxy.settings import ConfigError, load_settings
from proxy.tls import ReloadableContext, TLSError, server_context
from tests.support.tls import TestCA


def _problems(document: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "pullgate.yaml"
    path.write_text(document)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    return caught.value.problems


def test_defaults_are_plain_http_with_bounded_connections() -> None:
    server = load_settings(None, {}).server
    assert server.tls is None
    assert (server.keepalive_timeout, server.request_head_timeout, server.request_body_timeout) == (
        75,
        10,
        60,
    )
    assert (server.max_connections, server.max_requests_per_connection) == (10_000, 1000)
    assert (server.max_request_line, server.max_header_size, server.max_headers) == (8192, 8192, 100)


def test_every_tls_and_limit_problem_is_listed_at_once(tmp_path: Path) -> None:
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("not a key\n")
    problems = _problems(
        "server:\n"
        f"  tls: {{cert_file: {tmp_path / 'nope.pem'}, key_file: {not_a_key}, min_version: 1.0, ciphers: 'NULL-ONLY'}}\n"
        "  max_headers: 2\n"
        "  request_head_timeout: 0\n",
        tmp_path,
    )
    joined = "\n".join(problems)
    assert f"server.tls.cert_file: {tmp_path / 'nope.pem'} does not exist" in joined
    assert f"server.tls.key_file: {not_a_key} holds no PEM private key" in joined
    assert "server.tls.min_version: Input should be '1.2' or '1.3'" in joined
    assert "server.tls.ciphers: 'NULL-ONLY' selects no cipher suite" in joined
    assert "server.max_headers" in joined and "server.request_head_timeout" in joined
    assert len(problems) == 6


def test_a_pair_must_match_be_current_and_unencrypted(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    good, other, expired = (
        ca.issue("good", serial=1),
        ca.issue("other", serial=2),
        ca.issue("old", serial=3, expired=True),
    )
    settings = load_settings(
        None,
        {
            "PULLGATE_SERVER__TLS": f"{{cert_file: {good.cert_file}, key_file: {good.key_file}, min_version: 1.3}}"
        },
    )
    assert settings.server.tls is not None and settings.server.tls.min_version == "1.3"

    def tls(cert: Path, key: Path) -> str:
        return f"server:\n  tls: {{cert_file: {cert}, key_file: {key}}}\n"

    assert (
        "does not belong to the first certificate"
        in _problems(tls(good.cert_file, other.key_file), tmp_path)[0]
    )
    assert "expired on" in _problems(tls(expired.cert_file, expired.key_file), tmp_path)[0]
    chain_wrong_way = tmp_path / "chain.pem"
    chain_wrong_way.write_bytes(ca.ca_file.read_bytes() + good.cert_file.read_bytes())
    assert "server certificate must come first" in _problems(tls(chain_wrong_way, good.key_file), tmp_path)[0]
    encrypted = tmp_path / "encrypted.pem"
    key = serialization.load_pem_private_key(good.key_file.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert "is an encrypted key" in _problems(tls(good.cert_file, encrypted), tmp_path)[0]


def test_the_context_is_tls12_or_later_http11_and_reload_keeps_a_good_pair(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    first, second = ca.issue("first", serial=1), ca.issue("second", serial=2)
    settings = load_settings(
        None, {"PULLGATE_SERVER__TLS": f"{{cert_file: {first.cert_file}, key_file: {first.key_file}}}"}
    )
    assert settings.server.tls is not None
    options = settings.server.tls.context_options()
    context, info = server_context(options)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2 and info.serial == 1
    assert context.options & ssl.OP_NO_RENEGOTIATION
    reloadable = ReloadableContext(options)
    first.cert_file.write_bytes(second.cert_file.read_bytes())  # the key no longer matches
    with pytest.raises(TLSError, match="does not belong"):
        reloadable.reload()
    assert reloadable.info.serial == 1  # the old pair serves on
    first.key_file.write_bytes(second.key_file.read_bytes())
    assert reloadable.reload().serial == 2 and reloadable.info.serial == 2


def test_the_connection_cap_fits_the_open_file_limit() -> None:
    assert connection_cap(10_000, 1_048_576) == 10_000
    assert connection_cap(10_000, 1024) == 1024 - FD_RESERVE
    assert connection_cap(10, 100) == 1  # a hopeless limit still serves one client
