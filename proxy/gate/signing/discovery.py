"""Finding an image's signatures, through the same routing and cache as the image itself.

Three places are looked at, for the image digest and for every index in the repository that
lists it (a signature on an index covers its platform manifests):
  1. cosign's legacy tag ``sha256-<hex>.sig`` in the image's repository, and in each
     signature repository an authority names (like ``COSIGN_REPOSITORY``);
  2. the OCI 1.1 referrers of the digest (the mirror falls back to the referrers tag schema
     for registries without the API): sigstore bundles and Notation signatures, the latter
     also in its legacy form (config media type ``application/vnd.cncf.notary.signature``).
The gate's own reads go through the mirror, not through the gate: signature artifacts are
never blocked, and a denied image's signatures stay readable anyway (invariant 3).

"Not found" is an answer (unsigned); an upstream failure is not: it raises
`DiscoveryFailed`, and the image waits (pending) rather than being judged unsigned.
Signature tags are mutable: the mirror re-checks them on the tag TTL like any tag.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from db.queries import MetadataStore
from proxy.cache.keys import RepoKey
from proxy.cache.mirror import Mirror
from proxy.cache.repositories import RepositoryIds
from proxy.oci.digest import Digest
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.manifest import Descriptor, Manifest, parse_manifest
from proxy.oci.reference import Tag
from proxy.signatures.model import ArtifactKind, SignatureArtifact, SignatureBlob

__all__ = ["DiscoveryFailed", "Found", "SignatureFinder"]

log = logging.getLogger(__name__)

MAX_SIGNATURE_BLOB = 1024 * 1024  # a bundle with a certificate chain is a few KiB
MAX_ARTIFACTS = 64  # per image and place; more is an attack on the gate's time, not signing
MAX_LAYERS = 64  # signatures in one cosign .sig manifest

COSIGN_PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
    }
)
NOTATION_TYPE = "application/vnd.cncf.notary.signature"
NOTATION_ENVELOPES = frozenset({"application/jose+json", "application/cose"})
_MISSING = frozenset({ErrorCode.MANIFEST_UNKNOWN, ErrorCode.NAME_UNKNOWN, ErrorCode.BLOB_UNKNOWN})


class DiscoveryFailed(Exception):
    """Signatures could not be looked for (the upstream failed); the message says where."""


@dataclass(frozen=True, slots=True)
class Found:
    subject: Digest  # the digest the artifacts sign: the image, or an index listing it
    artifacts: tuple[SignatureArtifact, ...]


class SignatureFinder:
    def __init__(self, mirror: Mirror, meta: MetadataStore, repositories: RepositoryIds) -> None:
        self._mirror = mirror
        self._meta = meta
        self._repositories = repositories

    async def find(
        self, key: RepoKey, digest: Digest, signature_repositories: Iterable[RepoKey] = ()
    ) -> list[Found]:
        """Every signature artifact for `digest` and for the indexes that list it."""
        subjects = [digest, *await self._parents(key, digest)]
        places = [key, *(r for r in dict.fromkeys(signature_repositories) if r != key)]
        found = []
        for subject in subjects:
            artifacts: list[SignatureArtifact] = []
            for place in places:
                artifacts.extend(await self._legacy(place, subject))
            artifacts.extend(await self._referrers(key, subject))
            found.append(Found(subject, tuple(artifacts)))
        return found

    async def _parents(self, key: RepoKey, digest: Digest) -> list[Digest]:
        repository_id = await self._repositories.get(key)
        return [Digest.parse(text) for text in await self._meta.indexes_listing(repository_id, str(digest))]

    # 1. cosign's tag schema ----------------------------------------------------------------
    async def _legacy(self, place: RepoKey, subject: Digest) -> list[SignatureArtifact]:
        tag = f"{subject.tag_form}.sig"
        manifest = await self._manifest(place, Tag.parse(tag))
        if manifest is None:
            return []
        artifact_digest, parsed = manifest
        layers = [d for d in parsed.layers if d.media_type == COSIGN_PAYLOAD][:MAX_LAYERS]
        blobs = [await self._blob(place, d) for d in layers]
        return [
            SignatureArtifact(
                ArtifactKind.COSIGN,
                str(artifact_digest),
                str(place),
                f"tag {tag} in {place}",
                tuple(b for b in blobs if b is not None),
                dict(parsed.annotations),
                parsed.artifact_type,
            )
        ]

    # 2. referrers --------------------------------------------------------------------------
    async def _referrers(self, key: RepoKey, subject: Digest) -> list[SignatureArtifact]:
        try:
            index = await self._mirror.referrers(key, subject, None)
        except RegistryError as exc:
            if exc.code in _MISSING:
                return []
            raise DiscoveryFailed(f"referrers of {subject} in {key}: {exc.message}") from exc
        artifacts = []
        for descriptor in _referrer_descriptors(index)[:MAX_ARTIFACTS]:
            artifact = await self._referrer(key, subject, descriptor)
            if artifact is not None:
                artifacts.append(artifact)
        return artifacts

    async def _referrer(
        self, key: RepoKey, subject: Digest, descriptor: Descriptor
    ) -> SignatureArtifact | None:
        kind = _kind(descriptor.artifact_type)
        if kind is None and descriptor.artifact_type is not None:
            return None  # an SBOM, an attestation of another kind: not a signature
        manifest = await self._manifest(key, descriptor.digest)
        if manifest is None:
            return None
        artifact_digest, parsed = manifest
        kind = (
            kind or _kind(parsed.artifact_type) or _kind(parsed.config.media_type if parsed.config else None)
        )
        # A referrer must say what it refers to; a listing that lies about it is ignored.
        if kind is None or parsed.subject is None or parsed.subject.digest != subject:
            return None
        wanted = BUNDLE_TYPES if kind is ArtifactKind.SIGSTORE_BUNDLE else NOTATION_ENVELOPES
        layers = [d for d in parsed.layers if d.media_type in wanted][:MAX_LAYERS]
        blobs = [await self._blob(key, d) for d in layers]
        return SignatureArtifact(
            kind,
            str(artifact_digest),
            str(key),
            f"referrer {artifact_digest} in {key}",
            tuple(b for b in blobs if b is not None),
            dict(parsed.annotations),
            parsed.artifact_type,
        )

    # fetching ------------------------------------------------------------------------------
    async def _manifest(self, place: RepoKey, reference: Tag | Digest) -> tuple[Digest, Manifest] | None:
        try:
            served = await self._mirror.manifest(place, reference)
            cached = await self._mirror.cached_manifest(place, served.digest)
        except RegistryError as exc:
            if exc.code in _MISSING:
                return None
            raise DiscoveryFailed(f"{place}:{reference}: {exc.message}") from exc
        return served.digest, cached.manifest

    async def _blob(self, place: RepoKey, descriptor: Descriptor) -> SignatureBlob | None:
        if descriptor.size > MAX_SIGNATURE_BLOB:
            log.warning(
                "signature blob %s in %s is %d bytes; ignored", descriptor.digest, place, descriptor.size
            )
            return None
        try:
            source = await self._mirror.blob(place, descriptor.digest)
        except RegistryError as exc:
            if exc.code in _MISSING:
                return None
            raise DiscoveryFailed(f"blob {descriptor.digest} in {place}: {exc.message}") from exc
        try:
            chunks = []
            size = 0
            async for chunk in source.stream():
                size += len(chunk)
                if size > MAX_SIGNATURE_BLOB:
                    return None
                chunks.append(chunk)
        finally:
            source.release()
        return SignatureBlob(
            descriptor.media_type, str(descriptor.digest), b"".join(chunks), dict(descriptor.annotations)
        )


def _kind(media_type: str | None) -> ArtifactKind | None:
    if media_type in BUNDLE_TYPES:
        return ArtifactKind.SIGSTORE_BUNDLE
    if media_type == NOTATION_TYPE:
        return ArtifactKind.NOTATION
    return None


def _referrer_descriptors(index: bytes) -> list[Descriptor]:
    return list(parse_manifest(index).children)
