"""Manifest media types pullgate understands (OCI image spec and Docker image manifest v2)."""

from __future__ import annotations

__all__ = [
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "accepts",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
# Ordered: this is the Accept header pullgate sends upstream, most preferred first.
MANIFEST_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)


def parse_accept(header_values: list[str]) -> set[str]:
    """The media types named in one or more Accept headers, parameters and weights dropped."""
    types: set[str] = set()
    for value in header_values:
        for item in value.split(","):
            media_type = item.split(";", 1)[0].strip().lower()
            if media_type:
                types.add(media_type)
    return types


def accepts(accepted: set[str], media_type: str) -> bool:
    """Whether a client that sent `accepted` can take `media_type`.

    A client that sends no Accept header, or a wildcard, takes anything: that is what curl,
    crane and most libraries do. A client that lists manifest types is held to its list,
    because it would fail to parse anything else.
    """
    if not accepted or "*/*" in accepted or "application/*" in accepted:
        return True
    return media_type in accepted
