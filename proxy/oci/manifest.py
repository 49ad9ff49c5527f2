"""Manifest parsing: just enough structure to know what a manifest references.

pullgate never re-serialises a manifest: it serves the exact bytes it fetched, so the
digest clients compute stays the digest upstream published. Parsing exists to learn the
descriptors (config, layers, child manifests, subject) that the cache and the gate need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from proxy.oci import mediatypes
from proxy.oci.digest import Digest, InvalidDigestError

__all__ = [
    "MAX_INDEX_ENTRIES",
    "MAX_LAYERS",
    "MAX_MANIFEST_BYTES",
    "Descriptor",
    "InvalidManifestError",
    "Manifest",
    "ManifestLimitError",
    "check_limits",
    "parse_manifest",
]

# The distribution spec lets registries refuse manifests over 4 MiB; so do we, before parsing.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# Descriptors one served manifest may list. Real ones stay far below (overlay file systems
# stop near 128 layers; multi-platform indexes list tens of entries); within 4 MiB a manifest
# could list 25,000, each a row to store and a blob the gate must account for.
MAX_LAYERS = 1000
MAX_INDEX_ENTRIES = 1000


class InvalidManifestError(ValueError):
    """Bytes that are not a manifest pullgate can serve."""


class ManifestLimitError(InvalidManifestError):
    """A well-formed manifest listing more descriptors than pullgate serves."""

    def __init__(self, field: str, count: int, limit: int) -> None:
        self.field, self.count, self.limit = field, count, limit
        super().__init__(f"the manifest lists {count} {field}; pullgate serves at most {limit}")


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    children: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEX_TYPES

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config then layers: every blob a client may fetch on this manifest's behalf."""
        return ((self.config,) if self.config else ()) + self.layers


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse and validate manifest bytes; `content_type` is what the upstream declared."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(data)
    # ValueError covers JSONDecodeError, bad UTF-8 and numbers past Python's 4300-digit limit;
    # RecursionError a few KiB of "[": untrusted bytes must end in the domain error, nothing else.
    except (ValueError, RecursionError) as exc:
        raise InvalidManifestError(f"manifest is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise InvalidManifestError("manifest is not a JSON object")
    version = doc.get("schemaVersion")
    if version != 2 or type(version) is not int:  # 2.0 is not a schemaVersion
        raise InvalidManifestError("only schemaVersion 2 manifests are supported")
    media_type = _media_type(doc, content_type)
    is_index = media_type in mediatypes.INDEX_TYPES
    config = None if is_index else _descriptor(doc.get("config"), "config")
    layers = () if is_index else tuple(_descriptors(doc.get("layers", []), "layers"))
    children = tuple(_descriptors(doc.get("manifests", []), "manifests")) if is_index else ()
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifestError("artifactType must be a string")
    return Manifest(
        media_type=media_type,
        config=config,
        layers=layers,
        children=children,
        subject=subject,
        artifact_type=artifact_type,
        annotations=_annotations(doc.get("annotations")),
    )


def check_limits(manifest: Manifest) -> None:
    """Refuse (`ManifestLimitError`) a manifest to serve that lists too many descriptors.

    Separate from parsing: a referrers answer is an index too, and may list any number.
    """
    if len(manifest.layers) > MAX_LAYERS:
        raise ManifestLimitError("layers", len(manifest.layers), MAX_LAYERS)
    if len(manifest.children) > MAX_INDEX_ENTRIES:
        raise ManifestLimitError("manifests", len(manifest.children), MAX_INDEX_ENTRIES)


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    header = content_type.split(";", 1)[0].strip() if content_type else None
    if declared is not None and header and declared != header:
        raise InvalidManifestError(f"manifest mediaType {declared!r} contradicts Content-Type {header!r}")
    media_type = declared or header
    if media_type is None:
        # An OCI manifest may omit mediaType; its shape tells which kind it is.
        media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise InvalidManifestError(f"unsupported manifest media type {media_type!r}")
    return str(media_type)


def _descriptors(items: Any, where: str) -> list[Descriptor]:
    if not isinstance(items, list):
        raise InvalidManifestError(f"{where} must be a list")
    return [_descriptor(item, f"{where}[{i}]") for i, item in enumerate(items)]


def _descriptor(item: Any, where: str) -> Descriptor:
    if not isinstance(item, dict):
        raise InvalidManifestError(f"{where} must be a descriptor object")
    media_type, digest, size = item.get("mediaType"), item.get("digest"), item.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifestError(f"{where}.mediaType is missing")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifestError(f"{where}.size must be a non-negative integer")
    try:
        parsed = Digest.parse(digest if isinstance(digest, str) else "")
    except InvalidDigestError as exc:
        raise InvalidManifestError(f"{where}.digest: {exc}") from exc
    return Descriptor(
        media_type=media_type,
        digest=parsed,
        size=size,
        platform=_platform(item.get("platform")),
        artifact_type=item.get("artifactType") if isinstance(item.get("artifactType"), str) else None,
        annotations=_annotations(item.get("annotations")),
    )


def _platform(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_name, arch = value.get("os"), value.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = value.get("variant")
    return Platform(os_name, arch, variant if isinstance(variant, str) else None)


def _annotations(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidManifestError("annotations must map strings to strings")
    return dict(value)
