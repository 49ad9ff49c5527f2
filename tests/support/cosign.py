"""Cosign signatures made with `cryptography`, byte for byte in cosign's format.

What cosign (``cosign sign --key``) writes, and what is reproduced here:
  * the payload is Go's ``json.Marshal`` of sigstore's ``SimpleContainerImage``: compact,
    struct fields in declaration order, ``optional`` keys sorted, ``<>&`` escaped as
    ``\\u003c`` etc., ``"optional":null`` when there are no annotations;
  * the signature is over exactly those bytes, base64 in the layer annotation
    ``dev.cosignproject.cosign/signature``;
  * the signature manifest is an OCI image manifest tagged ``sha256-<hex>.sig``, one
    ``application/vnd.dev.cosign.simplesigning.v1+json`` layer per signature (a new signature
    is appended as a layer), and a go-containerregistry config whose ``rootfs.diff_ids`` are
    the payload digests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from proxy.signatures.model import SignatureBlob
from tests.support.auth import Auth, auth_headers
from tests.support.images import OCI_CONFIG, OCI_MANIFEST, canonical_json, sha256_digest
from tests.support.push import MANIFEST_ACCEPT, push_blob, push_manifest

__all__ = [
    "COSIGN_TYPE",
    "KEY_KINDS",
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING",
    "CosignLayer",
    "PrivateKey",
    "SignatureManifest",
    "generate_key",
    "go_json",
    "public_pem",
    "push_cosign_signatures",
    "sign",
    "sign_payload",
    "signature_manifest",
    "signature_tag",
    "simple_signing_payload",
]

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_TYPE = "cosign container image signature"
_FIXED_TIME = "2024-01-01T00:00:00Z"
_ZERO_TIME = "0001-01-01T00:00:00Z"  # go-containerregistry's history entries carry Go's zero time

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
KeyKind = Literal["p256", "p384", "p521", "rsa2048", "rsa3072", "ed25519"]
KEY_KINDS: tuple[KeyKind, ...] = ("p256", "p384", "p521", "rsa2048", "rsa3072", "ed25519")
_CURVES: Mapping[str, ec.EllipticCurve] = MappingProxyType(
    {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}
)
# sigstore's registry defaults, which cosign's signers follow.
_DIGESTS: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}
)


def generate_key(kind: KeyKind = "p256") -> PrivateKey:
    """A fresh key: ECDSA P-256 is what ``cosign generate-key-pair`` makes."""
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind])
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind.removeprefix("rsa")))
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey) -> str:
    """The public half as ``cosign public-key`` prints it (PKIX ``PUBLIC KEY``)."""
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def sign(key: PrivateKey, data: bytes, *, legacy_sha256: bool = False, pss: bool = False) -> bytes:
    """Sign as cosign does for the key type (sigstore's registry defaults).

    ``legacy_sha256`` signs ECDSA with SHA-256 whatever the curve, as cosign did before its
    signers followed the registry; ``pss`` signs RSA with PSS instead of PKCS#1 v1.5.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = hashes.SHA256() if legacy_sha256 else _DIGESTS[key.curve.name]()
        return key.sign(data, ec.ECDSA(digest))
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
            return key.sign(data, pad, hashes.SHA256())
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def go_json(value: Any) -> bytes:
    """Go's ``json.Marshal`` for maps: compact, keys sorted, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def simple_signing_payload(
    repository: str,
    digest: str,
    optional: Mapping[str, Any] | None = None,
    *,
    signature_type: str = COSIGN_TYPE,
) -> bytes:
    """The payload ``cosign sign`` uploads for ``repository@digest``.

    ``repository`` is go-containerregistry's ``Repository.Name()``: Docker Hub images read
    ``index.docker.io/library/alpine``.
    """
    # Field order is the Go struct's, so build the outer objects by hand around go_json.
    critical = (
        '{"identity":{"docker-reference":' + go_json(repository).decode() + "},"
        '"image":{"docker-manifest-digest":' + go_json(digest).decode() + "},"
        '"type":' + go_json(signature_type).decode() + "}"
    )
    claims = "null" if optional is None else go_json(dict(optional)).decode()
    return f'{{"critical":{critical},"optional":{claims}}}'.encode()


@dataclass(frozen=True)
class CosignLayer:
    """One signature: its payload blob and the annotations on the payload's descriptor."""

    payload: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.payload)

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": SIMPLE_SIGNING,
            "size": len(self.payload),
            "digest": self.digest,
            "annotations": dict(self.annotations),
        }

    def blob(self) -> SignatureBlob:
        """The layer as discovery hands it to a verifier."""
        return SignatureBlob(SIMPLE_SIGNING, self.digest, self.payload, dict(self.annotations))


def sign_payload(
    key: PrivateKey, payload: bytes, *, legacy_sha256: bool = False, pss: bool = False
) -> CosignLayer:
    signature = sign(key, payload, legacy_sha256=legacy_sha256, pss=pss)
    return CosignLayer(payload, {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()})


def signature_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.sig``, cosign's tag-based discovery."""
    return digest.replace(":", "-") + ".sig"


@dataclass(frozen=True)
class SignatureManifest:
    manifest: bytes
    config: bytes
    layers: tuple[CosignLayer, ...]

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def signature_manifest(layers: Sequence[CosignLayer], *, created: str = _FIXED_TIME) -> SignatureManifest:
    """The ``.sig`` manifest and config holding ``layers``, in order."""
    config = canonical_json(
        {
            "architecture": "",
            "created": created,
            "history": [{"created": _ZERO_TIME} for _ in layers],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
            "config": {},
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256_digest(config)},
            "layers": [layer.descriptor() for layer in layers],
        }
    )
    return SignatureManifest(manifest, config, tuple(layers))


async def push_cosign_signatures(
    session: aiohttp.ClientSession,
    base_url: str,
    repo: str,
    image_digest: str,
    layers: Sequence[CosignLayer],
    *,
    append: bool = True,
    auth: Auth = None,
) -> SignatureManifest:
    """Upload payloads and config, then the manifest under ``sha256-<hex>.sig``.

    With ``append`` the signatures already under the tag are kept and the new layers follow
    them, as ``cosign sign`` does; a layer already present (same payload and annotations) is
    not added twice.
    """
    tag = signature_tag(image_digest)
    existing = await _existing_layers(session, base_url, repo, tag, auth) if append else []
    combined = list(existing)
    for layer in layers:
        if layer not in combined:
            combined.append(layer)
    built = signature_manifest(combined)
    for layer in layers:
        await push_blob(session, base_url, repo, layer.payload, auth=auth)
    await push_blob(session, base_url, repo, built.config, auth=auth)
    await push_manifest(session, base_url, repo, tag, OCI_MANIFEST, built.manifest, auth=auth)
    return built


async def _existing_layers(
    session: aiohttp.ClientSession, base_url: str, repo: str, tag: str, auth: Auth
) -> list[CosignLayer]:
    headers = {**auth_headers(auth), "Accept": MANIFEST_ACCEPT}
    async with session.get(f"{base_url}/v2/{repo}/manifests/{tag}", headers=headers) as resp:
        if resp.status == 404:
            return []
        assert resp.status == 200, f"manifest {tag}: {resp.status} {await resp.text()}"
        manifest = json.loads(await resp.read())
    layers = []
    for descriptor in manifest.get("layers", []):
        url = f"{base_url}/v2/{repo}/blobs/{descriptor['digest']}"
        async with session.get(url, headers=auth_headers(auth)) as resp:
            assert resp.status == 200, f"blob {descriptor['digest']}: {resp.status}"
            payload = await resp.read()
        layers.append(CosignLayer(payload, descriptor.get("annotations", {})))
    return layers
