"""The simple-signing payload parser: cosign's output parses, everything else is named."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.simple_signing import (
    COSIGN_SIGNATURE_TYPE,
    MAX_PAYLOAD_BYTES,
    SimpleSigning,
    parse_simple_signing,
)
from tests.support.cosign import simple_signing_payload

DIGEST = "sha256:" + "d34db33f" * 8
REFERENCE = "example.com/test/image"


def _payload(**critical_overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(simple_signing_payload(REFERENCE, DIGEST))
    document["critical"].update(critical_overrides)
    return document


def _parse(document: Any) -> SimpleSigning:
    return parse_simple_signing(json.dumps(document).encode())


def test_cosign_payload_without_annotations_parses() -> None:
    parsed = parse_simple_signing(simple_signing_payload(REFERENCE, DIGEST))
    assert parsed == SimpleSigning(REFERENCE, DIGEST, COSIGN_SIGNATURE_TYPE, {})


def test_cosign_payload_with_annotations_keeps_their_json_values() -> None:
    claims = {"creator": "ci", "run": 42, "nested": {"ok": True, "none": None}, "html": "<a&b>"}
    parsed = parse_simple_signing(simple_signing_payload(REFERENCE, DIGEST, claims))
    assert dict(parsed.optional) == claims


def test_missing_optional_reads_as_no_claims() -> None:
    document = _payload()
    del document["optional"]
    assert _parse(document).optional == {}


def test_result_is_frozen() -> None:
    parsed = parse_simple_signing(simple_signing_payload(REFERENCE, DIGEST, {"a": "b"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.manifest_digest = "sha256:" + "0" * 64  # type: ignore[misc]
    with pytest.raises(TypeError):
        parsed.optional["a"] = "c"  # type: ignore[index]


def test_other_types_are_parsed_and_left_to_the_verifier() -> None:
    assert _parse(_payload(type="atomic container signature")).type == "atomic container signature"


def test_payload_at_the_limit_parses_and_one_byte_more_does_not() -> None:
    base = simple_signing_payload(REFERENCE, DIGEST, {"pad": ""})
    padded = base.replace(b'"pad":""', b'"pad":"' + b"x" * (MAX_PAYLOAD_BYTES - len(base)) + b'"')
    assert len(padded) == MAX_PAYLOAD_BYTES
    parse_simple_signing(padded)
    with pytest.raises(SignatureInvalid, match=f"payload is {MAX_PAYLOAD_BYTES + 1} bytes, more than"):
        parse_simple_signing(padded + b" ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{}", "payload is not UTF-8"),
        (b"{", "payload is not JSON"),
        (b"", "payload is not JSON"),
        (b"[]", "payload must be a JSON object, not an array"),
        (b'"text"', "payload must be a JSON object, not a string"),
        (b"{}", "payload lacks 'critical'"),
        (b'{"critical":null}', "payload critical must be a JSON object, not null"),
        (b'{"critical":{"image":{},"type":"x"}}', "payload critical lacks 'identity'"),
        (b"[" * 100_000, "nests too deeply"),
        (b'{"critical":{"type":NaN}}', "not standard JSON: it contains NaN"),
    ],
)
def test_malformed_payloads_are_named(data: bytes, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=re.escape(message)):
        parse_simple_signing(data[:MAX_PAYLOAD_BYTES])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identity": {}}, "payload critical.identity lacks 'docker-reference'"),
        (
            {"identity": {"docker-reference": 7}},
            "critical.identity.docker-reference must be a string, not a number",
        ),
        ({"image": []}, "payload critical.image must be a JSON object, not an array"),
        ({"image": {"docker-manifest-digest": None}}, "docker-manifest-digest must be a string, not null"),
        ({"image": {"docker-manifest-digest": "sha256:abc"}}, "docker-manifest-digest is invalid"),
        ({"image": {"docker-manifest-digest": "md5:" + "0" * 32}}, "docker-manifest-digest is invalid"),
        ({"type": True}, "payload critical.type must be a string, not a boolean"),
        ({"extra": 1}, "payload critical has unknown keys 'extra'"),
        ({"identity": {"docker-reference": "a", "tag": "b"}}, "critical.identity has unknown keys 'tag'"),
    ],
)
def test_wrong_critical_fields_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SignatureInvalid, match=re.escape(message)):
        _parse(_payload(**change))


def test_keys_match_exactly() -> None:
    # Go's decoder would read "Docker-manifest-digest"; a strict reader does not guess.
    document = _payload(image={"Docker-manifest-digest": DIGEST})
    with pytest.raises(SignatureInvalid, match="unknown keys 'Docker-manifest-digest'"):
        _parse(document)


def test_unknown_top_level_keys_are_refused() -> None:
    document = {**_payload(), "signature": "x"}
    with pytest.raises(SignatureInvalid, match="payload has unknown keys 'signature'"):
        _parse(document)


@pytest.mark.parametrize("optional", [[], "creator", 3])
def test_optional_must_be_an_object_or_null(optional: Any) -> None:
    with pytest.raises(SignatureInvalid, match="payload optional must be a JSON object or null"):
        _parse({**_payload(), "optional": optional})


@pytest.mark.parametrize(
    "data",
    [
        # The second digest would win in Go, the first in other parsers: refuse both readings.
        b'{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:'
        + b"1" * 64
        + b'","docker-manifest-digest":"sha256:'
        + b"2" * 64
        + b'"},"type":"cosign container image signature"},"optional":null}',
        b'{"critical":{},"critical":{}}',
        b'{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:'
        + b"1" * 64
        + b'"},"type":"cosign container image signature"},"optional":{"a":"1","a":"2"}}',
    ],
)
def test_repeated_keys_are_refused_anywhere(data: bytes) -> None:
    with pytest.raises(SignatureInvalid, match="payload repeats the key"):
        parse_simple_signing(data)
