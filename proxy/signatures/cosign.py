"""Cosign signatures in the legacy ``sha256-<hex>.sig`` layout: one layer per signature.

Each layer holds a simple-signing payload as its blob and the signature over exactly those bytes
in its ``dev.cosignproject.cosign/signature`` annotation. The steps below are numbered after
cosign's specification (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md,
"Storage" and "Payloads") and checked in this order:

  1. the payload blob is the one its descriptor names (media type and digest);
  2. the signature is the base64 annotation on that descriptor;
  3. it verifies over the exact payload bytes, with a key of the authority (key-based) or with
     the certificate the layer carries, checked against the trusted root (keyless);
  4. the payload is a cosign signature about this very image (``critical.type``,
     ``critical.image.docker-manifest-digest``);
  5. when the authority asks, ``critical.identity.docker-reference`` names the image's repository;
  6. every annotation the authority requires is in the payload's ``optional`` claims.

The payload is parsed only after its signature verified (step 3 before step 4): unsigned bytes
are not worth a parser's time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.reference import InvalidNameError, RepositoryName
from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keyless import verify_cosign_certificate
from proxy.signatures.keys import PublicKey, describe_key, key_id, verify_signature
from proxy.signatures.model import KeyAuthority, KeylessAuthority, SignatureBlob, SignedImage, Verification
from proxy.signatures.simple_signing import (
    COSIGN_SIGNATURE_TYPE,
    MAX_PAYLOAD_BYTES,
    SIMPLE_SIGNING_MEDIA_TYPE,
    parse_simple_signing,
)
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import load_certificate

__all__ = ["CERTIFICATE_ANNOTATION", "SIGNATURE_ANNOTATION", "verify_cosign_blob"]

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
# Base64 of the largest signature we verify (RSA-16384: 2 KiB) fits many times over.
_MAX_SIGNATURE_CHARS = 16 * 1024
_DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_KEYS_LISTED = 5  # keys named in a failure message; more are counted


@dataclass(frozen=True, slots=True)
class _Signer:
    """Who step 3 proved made the signature."""

    id: str  # Verification.signer: a key id, or the keyless identity
    description: str  # completes "signed by ..."
    signed_at: datetime | None = None
    notes: tuple[str, ...] = ()


def verify_cosign_blob(
    blob: SignatureBlob,
    image: SignedImage,
    authority: KeyAuthority | KeylessAuthority,
    *,
    keys: tuple[PublicKey, ...] | None,
    artifact_digest: str,
    trusted_root: TrustedRoot | None = None,
) -> Verification:
    """Check one signature layer against one authority; never raises for bad input.

    ``keys`` are a key authority's public keys (its ``public_key`` trust material, loaded with
    `load_public_keys`); ``trusted_root`` is a keyless authority's parsed ``trusted_root``
    material, handed to the keyless step untouched. ``artifact_digest`` is the digest of the
    signature manifest the layer came from, reported back for the audit trail.
    """
    try:
        signer = _verify(blob, image, authority, keys, trusted_root)
    except SignatureInvalid as exc:
        return Verification(ok=False, authority=authority.name, message=str(exc), artifact=artifact_digest)
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"signed by {signer.description}",
        signer=signer.id,
        signed_at=signer.signed_at,
        artifact=artifact_digest,
        notes=signer.notes,
    )


def _verify(
    blob: SignatureBlob,
    image: SignedImage,
    authority: KeyAuthority | KeylessAuthority,
    keys: tuple[PublicKey, ...] | None,
    trusted_root: TrustedRoot | None,
) -> _Signer:
    # 1. The payload is the blob its descriptor names: what was hashed is what gets checked.
    _check_descriptor(blob)
    # 2. The signature is the base64 annotation on the payload's descriptor.
    signature = _signature(blob.annotations)
    # 3. It verifies over the exact payload bytes (never a re-serialisation of them).
    if isinstance(authority, KeyAuthority):
        signer = _key_signer(blob, signature, authority, keys)
    else:
        signer = _keyless_signer(blob, signature, authority, trusted_root)
    # 4. The payload is a cosign signature of this image: a valid signature of another image
    #    (or of something else entirely) must not count.
    payload = parse_simple_signing(blob.data)
    if payload.type != COSIGN_SIGNATURE_TYPE:
        raise SignatureInvalid(
            f"payload critical.type is {payload.type[:100]!r}, not {COSIGN_SIGNATURE_TYPE!r}"
        )
    if payload.manifest_digest != image.digest:
        raise SignatureInvalid(f"payload is for {payload.manifest_digest} but the image is {image.digest}")
    # 5. cosign itself ignores docker-reference; an authority may pin it to the repository.
    if authority.check_reference:
        _check_reference(payload.docker_reference, image.repository)
    # 6. Required annotations (cosign verify -a key=value) are claims of the signed payload.
    _check_annotations(payload.optional, authority.annotations)
    return signer


def _check_descriptor(blob: SignatureBlob) -> None:
    if blob.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        raise SignatureInvalid(
            f"layer media type {blob.media_type[:100]!r} is not {SIMPLE_SIGNING_MEDIA_TYPE}"
        )
    if len(blob.data) > MAX_PAYLOAD_BYTES:
        raise SignatureInvalid(
            f"payload is {len(blob.data)} bytes, more than the {MAX_PAYLOAD_BYTES} a simple-signing payload may have"
        )
    try:
        stated = Digest.parse(blob.digest)
    except InvalidDigestError as exc:
        raise SignatureInvalid(f"payload descriptor digest is invalid: {exc}") from exc
    actual = Digest.of(blob.data, stated.algorithm)
    if actual != stated:
        raise SignatureInvalid(f"payload digest {actual} does not match its descriptor {stated}")


def _signature(annotations: Mapping[str, str]) -> bytes:
    text = annotations.get(SIGNATURE_ANNOTATION)
    if text is None:
        raise SignatureInvalid(f"layer has no {SIGNATURE_ANNOTATION} annotation")
    if len(text) > _MAX_SIGNATURE_CHARS:
        raise SignatureInvalid(f"{SIGNATURE_ANNOTATION} is {len(text)} characters, too long for a signature")
    try:
        signature = base64.b64decode(text, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise SignatureInvalid(f"{SIGNATURE_ANNOTATION} is not valid base64: {exc}") from exc
    if not signature:
        raise SignatureInvalid(f"{SIGNATURE_ANNOTATION} is empty")
    return signature


def _key_signer(
    blob: SignatureBlob, signature: bytes, authority: KeyAuthority, keys: tuple[PublicKey, ...] | None
) -> _Signer:
    if not keys:  # fail closed: no key cannot mean any key
        raise SignatureInvalid(f"trust material {authority.key!r} holds no public key to verify with")
    for key in keys:
        try:
            verify_signature(key, signature, blob.data)
        except SignatureInvalid:
            continue
        return _Signer(id=key_id(key), description=f"key {key_id(key)}")
    raise SignatureInvalid(
        f"signature made {_made_by(blob, signature)}, policy requires one of {_named(keys)}"
    )


def _keyless_signer(
    blob: SignatureBlob, signature: bytes, authority: KeylessAuthority, trusted_root: TrustedRoot | None
) -> _Signer:
    """Step 3 for a keyless authority: the layer's Fulcio certificate, chained to the trusted
    root at the proven signing time (Rekor SET or RFC 3161 timestamp), the identity matched,
    the signature checked."""
    if trusted_root is None:  # fail closed: no root cannot mean any root
        raise SignatureInvalid(f"trusted root {authority.trusted_root!r} is not available")
    result = verify_cosign_certificate(
        blob.annotations,
        payload=blob.data,
        signature=signature,
        authority=authority,
        trusted_root=trusted_root,
    )
    if not result.ok:
        raise SignatureInvalid(result.message)
    description = result.message.removeprefix("signed by ")
    return _Signer(result.signer or description, description, result.signed_at, result.notes)


def _made_by(blob: SignatureBlob, signature: bytes) -> str:
    """Who made a signature none of the authority's keys verifies, when the layer tells."""
    pem = blob.annotations.get(CERTIFICATE_ANNOTATION)
    if pem:
        try:
            key = load_certificate(pem.encode(), pem=True).public_key()
        except ValueError:
            return "by no key we know"
        if isinstance(key, PublicKey):
            try:
                verify_signature(key, signature, blob.data)
            except SignatureInvalid:
                return "by no key we know"
            return f"with key {key_id(key)} of the certificate it carries (a keyless signature)"
    return "by no key we know"


def _named(keys: tuple[PublicKey, ...]) -> str:
    named = ", ".join(f"{key_id(key)} ({describe_key(key)})" for key in keys[:_KEYS_LISTED])
    more = len(keys) - _KEYS_LISTED
    return f"{named} and {more} more" if more > 0 else named


def _check_reference(reference: str, repository: str) -> None:
    if not reference:
        raise SignatureInvalid(f"payload has an empty docker-reference; the policy requires {repository}")
    claimed = _repository_of(reference)
    if claimed is None:
        raise SignatureInvalid(f"payload docker-reference {reference[:300]!r} is not an image reference")
    if claimed != _repository_of(repository):
        raise SignatureInvalid(f"payload names {reference[:300]!r}, but the image is in {repository}")


def _repository_of(reference: str) -> str | None:
    """``host/path`` of a docker reference, without tag or digest, normalised as Docker does.

    ``alpine``, ``docker.io/alpine`` and ``index.docker.io/library/alpine:3`` (what cosign
    writes for Docker Hub) are all ``docker.io/library/alpine``; a first component is a
    registry host when it has a dot or a port or is ``localhost``; hosts compare lowercase.
    """
    name = reference.partition("@")[0]
    if name.rfind(":") > name.rfind("/"):  # a tag: a port's colon always comes before a slash
        name = name[: name.rfind(":")]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), rest
    else:
        host, path = "docker.io", name
    if host in _DOCKER_HUB:
        host = "docker.io"
        path = path if "/" in path else f"library/{path}"
    try:
        return f"{host}/{RepositoryName.parse(path)}"
    except InvalidNameError:
        return None


def _check_annotations(claims: Mapping[str, Any], required: Mapping[str, str]) -> None:
    for name, wanted in sorted(required.items()):
        if name not in claims:
            raise SignatureInvalid(
                f"payload lacks the annotation {name!r} (policy requires {name}={wanted!r})"
            )
        found = claims[name]
        if found != wanted:
            shown = json.dumps(found, ensure_ascii=False)[:200]
            raise SignatureInvalid(f"payload annotation {name!r} is {shown}, policy requires {wanted!r}")
