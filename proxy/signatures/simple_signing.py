"""Cosign's "simple signing" payload, parsed strictly.

The format is containers/image's (docs/containers-signature.5.md, "JSON Data Format") as cosign
writes it (sigstore ``payload.SimpleContainerImage``):

    {"critical":{"identity":{"docker-reference":"<repository>"},
                 "image":{"docker-manifest-digest":"sha256:<hex>"},
                 "type":"cosign container image signature"},
     "optional":null | {<free-form claims, e.g. cosign sign -a key=value>}}

Stricter than cosign's Go parser, on purpose, because these bytes decide a pull:
  * at most `MAX_PAYLOAD_BYTES`, UTF-8, standard JSON (no NaN/Infinity);
  * a key repeated in any object is refused: parsers disagree on which copy wins, and a
    signature must mean one thing;
  * keys match exactly (Go's decoder ignores their case) and ``critical``, ``identity`` and
    ``image`` may hold no other keys, as the containers/image format requires of the part
    a consumer must understand; ``optional`` is free-form.
Whether ``critical.type`` is cosign's is left to the verifier, which reports it in its words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.signatures.errors import SignatureInvalid

__all__ = [
    "COSIGN_SIGNATURE_TYPE",
    "MAX_PAYLOAD_BYTES",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "SimpleSigning",
    "parse_simple_signing",
]

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
# cosign's payloads are a few hundred bytes; annotations given with -a rarely add more than a few KiB.
MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    docker_reference: str  # critical.identity.docker-reference
    manifest_digest: str  # critical.image.docker-manifest-digest, a valid digest
    type: str  # critical.type
    optional: Mapping[str, Any]  # empty when the payload has "optional": null or none


def parse_simple_signing(data: bytes) -> SimpleSigning:
    """Parse a payload; raise `SignatureInvalid` saying what is wrong with it."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise SignatureInvalid(
            f"payload is {len(data)} bytes, more than the {MAX_PAYLOAD_BYTES} a simple-signing payload may have"
        )
    document = _object(_load(data), "", {"critical", "optional"})
    critical = _object(_required(document, "critical", ""), "critical", {"identity", "image", "type"})
    identity = _object(_required(critical, "identity", "critical"), "critical.identity", {"docker-reference"})
    image = _object(_required(critical, "image", "critical"), "critical.image", {"docker-manifest-digest"})
    digest = _string(image, "docker-manifest-digest", "critical.image")
    try:
        Digest.parse(digest)
    except InvalidDigestError as exc:
        raise SignatureInvalid(f"payload critical.image.docker-manifest-digest is invalid: {exc}") from exc
    return SimpleSigning(
        docker_reference=_string(identity, "docker-reference", "critical.identity"),
        manifest_digest=digest,
        type=_string(critical, "type", "critical"),
        optional=_optional(document.get("optional")),
    )


def _load(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureInvalid(f"payload is not UTF-8: {exc}") from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except SignatureInvalid:
        raise
    except ValueError as exc:
        raise SignatureInvalid(f"payload is not JSON: {exc}") from exc
    except RecursionError as exc:  # a few KiB of "[" nest deeper than the decoder recurses
        raise SignatureInvalid("payload nests too deeply to be a simple-signing payload") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise SignatureInvalid(f"payload repeats the key {key[:50]!r} in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise SignatureInvalid(f"payload is not standard JSON: it contains {name}")


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignatureInvalid(f"{_at(where)} must be a JSON object, not {_json_type(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        shown = ", ".join(repr(key[:50]) for key in unknown[:5])  # attacker-chosen: keep messages short
        raise SignatureInvalid(f"{_at(where)} has unknown keys {shown}")
    return value


def _required(container: dict[str, Any], key: str, where: str) -> Any:
    if key not in container:
        raise SignatureInvalid(f"{_at(where)} lacks {key!r}")
    return container[key]


def _string(container: dict[str, Any], key: str, where: str) -> str:
    value = _required(container, key, where)
    if not isinstance(value, str):
        raise SignatureInvalid(f"payload {where}.{key} must be a string, not {_json_type(value)}")
    return value


def _at(where: str) -> str:
    return f"payload {where}" if where else "payload"


def _optional(value: Any) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise SignatureInvalid(f"payload optional must be a JSON object or null, not {_json_type(value)}")
    return MappingProxyType(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
