"""The vocabulary shared by discovery, the verifiers and the gate.

A `SignatureArtifact` is what discovery found for an image (a legacy cosign ``.sig`` manifest,
a sigstore bundle referrer, a Notation signature referrer), already fetched and digest-checked
by the content store. An authority says *who* must have signed; each verifier answers one
`Verification` per signature it examined, with a message a person understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ArtifactKind",
    "Authority",
    "Identity",
    "KeyAuthority",
    "KeylessAuthority",
    "NotationAuthority",
    "SignatureArtifact",
    "SignatureBlob",
    "SignedImage",
    "Verification",
]


class ArtifactKind(StrEnum):
    COSIGN = "cosign"  # simple-signing payload layers, signature in an annotation
    SIGSTORE_BUNDLE = "sigstore-bundle"  # application/vnd.dev.sigstore.bundle.v0.3+json
    NOTATION = "notation"  # JWS or COSE envelope


@dataclass(frozen=True, slots=True)
class SignatureBlob:
    """One layer of a signature artifact: its descriptor as the manifest states it, and its bytes."""

    media_type: str
    digest: str  # as stated by the descriptor; verifiers re-check it against `data`
    data: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignatureArtifact:
    kind: ArtifactKind
    digest: str  # manifest digest of the signature artifact itself
    repository: str  # "<upstream>/<name>" it was found in
    found_by: str  # "tag sha256-….sig" or "referrers" (for messages)
    blobs: tuple[SignatureBlob, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)  # manifest annotations
    artifact_type: str | None = None


@dataclass(frozen=True, slots=True)
class SignedImage:
    """The image a signature must be about."""

    digest: str  # "sha256:…" of the manifest (or of the index whose signature covers it)
    repository: str  # "<registry host>/<name>", compared with cosign's docker-reference


@dataclass(frozen=True, slots=True)
class Identity:
    """A keyless signer: exact values or anchored regular expressions (full match), not both."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None


@dataclass(frozen=True, slots=True)
class KeyAuthority:
    name: str
    key: str  # name of a `public_key` trust material (PEM: may hold several keys)
    annotations: Mapping[str, str] = field(default_factory=dict)  # must all be in the payload
    check_reference: bool = False  # docker-reference must name the image's repository
    signature_repository: str | None = None  # like COSIGN_REPOSITORY


@dataclass(frozen=True, slots=True)
class KeylessAuthority:
    name: str
    trusted_root: str  # name of a `trusted_root` trust material (Sigstore trusted_root.json)
    identities: tuple[Identity, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    check_reference: bool = False
    signature_repository: str | None = None


@dataclass(frozen=True, slots=True)
class NotationAuthority:
    name: str
    trust_policy: str  # name of a `notation_trust_policy` trust material (trustpolicy.oci.json)


Authority = KeyAuthority | KeylessAuthority | NotationAuthority


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking one signature against one authority."""

    ok: bool
    authority: str
    message: str  # why it verified ("signed by ...") or why not, for people
    signer: str | None = None  # stable id of who signed: key fingerprint, identity, x509 subject
    signed_at: datetime | None = None  # the proven signing time, when there is one
    artifact: str | None = None  # digest of the signature artifact
    notes: tuple[str, ...] = ()  # e.g. "revocation check skipped by trust policy"
