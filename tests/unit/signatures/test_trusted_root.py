"""Parsing trusted_root.json: the real public-good root, lookups, and refusals of bad documents."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_world import World

VECTORS = Path(__file__).parent / "vectors"
REKOR_ID = bytes.fromhex("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")
CTFE_2022_ID = base64.b64decode("3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=")


@pytest.fixture
def public_good() -> TrustedRoot:
    return TrustedRoot.parse((VECTORS / "public-good-trusted_root.json").read_text())


def test_public_good_root_is_read(public_good: TrustedRoot) -> None:
    assert len(public_good.certificate_authorities) == 2
    assert len(public_good.tlogs) == 1 and len(public_good.ctlogs) == 2
    assert len(public_good.timestamp_authorities) == 1
    current = public_good.certificate_authorities[1]
    assert [c.subject.rfc4514_string() for c in current.anchors] == ["CN=sigstore,O=sigstore.dev"]
    assert [c.subject.rfc4514_string() for c in current.intermediates] == [
        "CN=sigstore-intermediate,O=sigstore.dev"
    ]


def test_log_keys_are_found_by_id_and_time(public_good: TrustedRoot) -> None:
    at = datetime(2026, 2, 27, tzinfo=UTC)
    assert public_good.tlog(REKOR_ID, at).base_url == "https://rekor.sigstore.dev"
    assert public_good.ctlog(CTFE_2022_ID, at).base_url == "https://ctfe.sigstore.dev/2022"
    with pytest.raises(SignatureInvalid, match="not valid at 2021-01-01"):
        public_good.ctlog(CTFE_2022_ID, datetime(2021, 1, 1, tzinfo=UTC))
    with pytest.raises(SignatureInvalid, match="is not in the trusted root"):
        public_good.tlog(b"\x01" * 32, at)


def test_certificate_authorities_by_validity(public_good: TrustedRoot) -> None:
    assert len(public_good.authorities_at(datetime(2022, 6, 1, tzinfo=UTC))) == 2
    assert len(public_good.authorities_at(datetime(2026, 1, 1, tzinfo=UTC))) == 1
    assert public_good.authorities_at(datetime(2020, 1, 1, tzinfo=UTC)) == ()


def test_timestamp_authorities_by_validity(public_good: TrustedRoot) -> None:
    (tsa,) = public_good.timestamp_authorities
    assert [c.subject.rfc4514_string() for c in tsa.certificates] == [
        "CN=sigstore-tsa,O=sigstore.dev",
        "CN=sigstore-tsa-selfsigned,O=sigstore.dev",
    ]
    assert [c.subject.rfc4514_string() for c in tsa.anchors] == ["CN=sigstore-tsa-selfsigned,O=sigstore.dev"]
    assert tsa.validity.start == datetime(2025, 7, 4, tzinfo=UTC) and tsa.validity.end is None
    assert public_good.timestamp_authorities_at(datetime(2026, 1, 1, tzinfo=UTC)) == (tsa,)
    assert public_good.timestamp_authorities_at(datetime(2025, 7, 3, tzinfo=UTC)) == ()


def _world_root() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(World().trusted_root())
    return document


def _break(path: str, value: object) -> str:
    document = _world_root()
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return json.dumps(document)


_DELETE = object()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "must be a JSON object"),
        (_break("mediaType", "application/json"), "unsupported mediaType"),
        (_break("tlogs.0.publicKey.rawBytes", "!!"), "not valid base64"),
        (_break("tlogs.0.publicKey.rawBytes", "AAAA"), "is not a public key"),
        (_break("tlogs.0.publicKey.keyDetails", "PKIX_MLDSA"), "keyDetails 'PKIX_MLDSA' is not supported"),
        (_break("tlogs.0.logId", _DELETE), "tlogs\\[0\\].logId must be an object"),
        (_break("tlogs.0.publicKey.validFor.start", "yesterday"), "is not an RFC 3339 time"),
        (_break("tlogs.0.publicKey.validFor.start", "2024-01-01T00:00:00"), "has no time zone"),
        (_break("tlogs", {}), "tlogs must be a list"),
        (_break("certificateAuthorities.0.certChain.certificates", []), "non-empty list"),
        (
            _break("certificateAuthorities.0.certChain.certificates.0.rawBytes", "AAAA"),
            "not a DER certificate",
        ),
        (
            _break(
                "certificateAuthorities.0.validFor",
                {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
            ),
            "ends before it starts",
        ),
        (json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}), "neither"),
    ],
)
def test_malformed_roots_are_refused(text: str, message: str) -> None:
    with pytest.raises(TrustMaterialError, match=message):
        TrustedRoot.parse(text)


def test_url_safe_base64_is_accepted() -> None:
    document = _world_root()
    raw = document["tlogs"][0]["publicKey"]["rawBytes"]
    document["tlogs"][0]["publicKey"]["rawBytes"] = raw.replace("+", "-").replace("/", "_").rstrip("=")
    assert len(TrustedRoot.parse(json.dumps(document)).tlogs) == 1
