"""Recognising signature and attestation artifacts, which stay readable for every image.

Clients verify signatures themselves (cosign, notation), so a denied image's signatures must
still be fetchable. Being an artifact must not become a way around the gate, though: only a
manifest whose every blob has a signature/attestation media type qualifies, so the layers of
a real image can never ride along under an artifact.
"""

from __future__ import annotations

import re

from proxy.oci.manifest import Manifest

__all__ = ["is_signature_artifact"]

SIGNATURE_BLOB_TYPES = frozenset(
    {
        "application/vnd.dev.cosign.simplesigning.v1+json",  # cosign legacy .sig payload
        "application/vnd.dsse.envelope.v1+json",  # cosign attestations (.att)
        "application/vnd.in-toto+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/jose+json",  # notation JWS envelope
        "application/cose",  # notation COSE envelope
        "application/vnd.cncf.notary.signature",
        "application/vnd.oci.empty.v1+json",  # the empty config of OCI 1.1 artifacts
        "application/vnd.oci.image.config.v1+json",  # cosign's config for .sig images (no layers of its own)
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.dev.cosign.artifact.sbom.v1+json",
        "application/spdx+json",
        "application/vnd.cyclonedx+json",
    }
)
# cosign's tag schema: sha256-<hex>.sig / .att / .sbom, one per signed image.
_COSIGN_TAG = re.compile(r"sha(256|512)-[a-f0-9]{64,128}\.(sig|att|sbom)")


def is_signature_artifact(manifest: Manifest, tags: set[str] | frozenset[str]) -> bool:
    if manifest.is_index:
        return False
    if manifest.subject is None and not any(_COSIGN_TAG.fullmatch(t) for t in tags):
        return False
    layers_ok = all(d.media_type in SIGNATURE_BLOB_TYPES for d in manifest.layers)
    config_ok = manifest.config is None or manifest.config.media_type in SIGNATURE_BLOB_TYPES
    # An image config with layers that are all signature payloads is how cosign stores .sig.
    return layers_ok and config_ok and bool(manifest.layers)
