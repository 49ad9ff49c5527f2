"""One entry point for every kind of signature: an artifact, an authority, the trust set.

An artifact's kind decides which verifier may look at it, and the authority which trust
material it needs: cosign key and keyless authorities accept legacy ``.sig`` signatures and
sigstore bundles; Notation authorities accept Notation envelopes. An artifact of another
kind is not evidence for this authority and yields nothing. Missing trust material yields a
failed `Verification` that says so; an unexpected exception (a verifier bug) propagates, and
the gate answers "pending" — never "allow" (DESIGN.md invariant 2).
"""

from __future__ import annotations

from dataclasses import replace

from proxy.signatures.bundle import verify_bundle
from proxy.signatures.cosign import verify_cosign_blob
from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.model import (
    ArtifactKind,
    Authority,
    KeyAuthority,
    KeylessAuthority,
    NotationAuthority,
    SignatureArtifact,
    SignatureBlob,
    SignedImage,
    Verification,
)
from proxy.signatures.notation.verify import verify_notation
from proxy.signatures.trust import TrustSet

__all__ = ["accepts", "verify_artifact"]


def accepts(authority: Authority, kind: ArtifactKind) -> bool:
    if isinstance(authority, NotationAuthority):
        return kind is ArtifactKind.NOTATION
    return kind in (ArtifactKind.COSIGN, ArtifactKind.SIGSTORE_BUNDLE)


def verify_artifact(
    artifact: SignatureArtifact, image: SignedImage, authority: Authority, trust: TrustSet
) -> list[Verification]:
    """One `Verification` per signature in the artifact (a .sig manifest may carry several)."""
    if not accepts(authority, artifact.kind):
        return []
    if not artifact.blobs:
        return [_failed(authority, artifact, f"{artifact.found_by} holds no signature")]
    results = []
    for blob in artifact.blobs:
        try:
            result = _verify_one(artifact, blob, image, authority, trust)
            if not result.ok:  # say where the signature that failed was found
                result = replace(result, message=f"{artifact.found_by}: {result.message}")
            results.append(result)
        except SignatureInvalid as exc:
            results.append(_failed(authority, artifact, str(exc)))
    return results


def _verify_one(
    artifact: SignatureArtifact,
    blob: SignatureBlob,
    image: SignedImage,
    authority: Authority,
    trust: TrustSet,
) -> Verification:
    if artifact.kind is ArtifactKind.NOTATION:
        assert isinstance(authority, NotationAuthority)
        return verify_notation(
            blob.data,
            blob.media_type,
            image,
            trust.notation_policy(authority.trust_policy),
            trust.notation_store,
            authority=authority.name,
            artifact_digest=artifact.digest,
        )
    assert isinstance(authority, KeyAuthority | KeylessAuthority)
    keys = trust.public_keys(authority.key) if isinstance(authority, KeyAuthority) else None
    root = trust.trusted_root(authority.trusted_root) if isinstance(authority, KeylessAuthority) else None
    if artifact.kind is ArtifactKind.SIGSTORE_BUNDLE:
        return verify_bundle(
            blob.data, image, authority, trusted_root=root, keys=keys, artifact_digest=artifact.digest
        )
    return verify_cosign_blob(
        blob, image, authority, keys=keys, trusted_root=root, artifact_digest=artifact.digest
    )


def _failed(authority: Authority, artifact: SignatureArtifact, message: str) -> Verification:
    return Verification(False, authority.name, f"{artifact.found_by}: {message}", artifact=artifact.digest)
