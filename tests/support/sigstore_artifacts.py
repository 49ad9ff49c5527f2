"""Signatures made in the test Sigstore: cosign legacy keyless annotations and sigstore bundles.

Bundles are returned as dicts so a test can tamper with one part before `encode`-ing it.
`with_timestamp` and `add_timestamp` attach an RFC 3161 timestamp of a `TestTSA` over the
signature bytes, where cosign and sigstore bundles put one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.sigstore_world import T0, Leaf, World, dsse_body, hashedrekord
from tests.support.tsa import TestTSA

SIGNED_AT = T0 + timedelta(minutes=1)
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
TIMESTAMP_ANNOTATION = "dev.sigstore.cosign/rfc3161timestamp"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def simple_signing(digest: str, repository: str = "registry.corp.example/app") -> bytes:
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()


def cosign_keyless(
    world: World,
    payload: bytes,
    leaf: Leaf | None = None,
    *,
    at: datetime = SIGNED_AT,
    with_bundle: bool = True,
    body: bytes | None = None,
) -> tuple[dict[str, str], bytes]:
    """Annotations of a legacy ``.sig`` layer signed keylessly, and the raw signature."""
    leaf = leaf or world.leaf()
    signature = leaf.sign(payload)
    chain = "".join(c.public_bytes(Encoding.PEM).decode() for c in (world.intermediate, world.root))
    annotations = {
        "dev.cosignproject.cosign/signature": b64(signature),
        "dev.sigstore.cosign/certificate": leaf.pem,
        "dev.sigstore.cosign/chain": chain,
    }
    if with_bundle:
        logged = world.rekor.append(
            body or hashedrekord(leaf.pem, signature, hashlib.sha256(payload).digest()), int(at.timestamp())
        )
        annotations["dev.sigstore.cosign/bundle"] = logged.cosign_bundle_annotation()
    return annotations, signature


def statement(digest_hex: str, name: str = "registry.corp.example/app") -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest_hex}}],
        "predicateType": COSIGN_PREDICATE,
        "predicate": {},
    }


def dsse_bundle(
    world: World,
    payload: dict[str, Any] | bytes,
    leaf: Leaf | None = None,
    *,
    at: datetime = SIGNED_AT,
    tlog: bool = True,
    **log: Any,
) -> dict[str, Any]:
    leaf = leaf or world.leaf()
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    payload_type = "application/vnd.in-toto+json"
    kind = payload_type.encode()
    signature = leaf.sign(b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(data), data))
    entries = []
    if tlog:
        logged = world.rekor.append(dsse_body(leaf.pem, signature, data), int(at.timestamp()), **log)
        entries.append(logged.bundle_entry("dsse", "0.0.1"))
    return {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(leaf.cert.public_bytes(Encoding.DER))},
            "tlogEntries": entries,
        },
        "dsseEnvelope": {
            "payload": b64(data),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        },
    }


def message_bundle(
    world: World,
    artifact: bytes,
    leaf: Leaf | None = None,
    *,
    at: datetime = SIGNED_AT,
    tlog: bool = True,
    **log: Any,
) -> dict[str, Any]:
    """A messageSignature bundle over `artifact` (for an image: its manifest bytes)."""
    leaf = leaf or world.leaf()
    signature = leaf.sign(artifact)
    digest = hashlib.sha256(artifact).digest()
    entries = []
    if tlog:
        logged = world.rekor.append(hashedrekord(leaf.pem, signature, digest), int(at.timestamp()), **log)
        entries.append(logged.bundle_entry("hashedrekord", "0.0.1"))
    return {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(leaf.cert.public_bytes(Encoding.DER))},
            "tlogEntries": entries,
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
            "signature": b64(signature),
        },
    }


def timestamp_annotation(token: bytes) -> str:
    """cosign's ``dev.sigstore.cosign/rfc3161timestamp`` value (Go's JSON of a []byte field)."""
    return json.dumps({"SignedRFC3161Timestamp": b64(token)})


def with_timestamp(
    annotations: dict[str, str], signature: bytes, tsa: TestTSA, *, at: datetime = SIGNED_AT, **kw: Any
) -> dict[str, str]:
    """`annotations` plus an RFC 3161 timestamp of `tsa` over the raw `signature`, as cosign adds it."""
    return {**annotations, TIMESTAMP_ANNOTATION: timestamp_annotation(tsa.timestamp(signature, at, **kw))}


def add_timestamp(
    bundle: dict[str, Any], tsa: TestTSA, *, at: datetime = SIGNED_AT, **kw: Any
) -> dict[str, Any]:
    """Append to `bundle` an RFC 3161 timestamp of `tsa` over its signature bytes; returns it."""
    if "dsseEnvelope" in bundle:
        signature = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    else:
        signature = bundle["messageSignature"]["signature"]
    token = tsa.timestamp(base64.b64decode(signature), at, **kw)
    data = bundle["verificationMaterial"].setdefault("timestampVerificationData", {})
    data.setdefault("rfc3161Timestamps", []).append({"signedTimestamp": b64(token)})
    return bundle
