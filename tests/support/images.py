"""Build OCI and Docker images in memory with the standard library only.

Layers are real gzipped tarballs and configs carry real ``diff_ids``, so runtimes that
unpack (podman, containerd) accept them. Manifests are serialised once and kept as bytes:
the digest is always the sha256 of exactly what a registry would serve.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "PLATFORMS",
    "Image",
    "ImageFactory",
    "Index",
    "Platform",
    "artifact_manifest",
    "build_image",
    "build_index",
    "canonical_json",
    "docker_manifest_list",
    "file_layer",
    "multi_layer_image",
    "multi_platform_index",
    "random_layer",
    "sha256_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

_FIXED_TIME = "2024-01-01T00:00:00Z"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Compact, key-order-preserving JSON: the bytes that get hashed and pushed."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm/v7`` -> Platform("linux", "arm", "v7")."""
        parts = text.split("/")
        return cls(parts[0], parts[1], parts[2] if len(parts) > 2 else None)

    def as_dict(self) -> dict[str, str]:
        result = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            result["variant"] = self.variant
        return result

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


PLATFORMS: tuple[Platform, ...] = (
    Platform("linux", "amd64"),
    Platform("linux", "arm64"),
    Platform("linux", "arm", "v7"),
)


@dataclass(frozen=True)
class Image:
    """One image (or artifact) manifest plus every blob it references."""

    manifest_bytes: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    platform: Platform | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def size(self) -> int:
        return len(self.manifest_bytes)

    @property
    def manifest(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.manifest_bytes)
        return parsed

    @property
    def config_digest(self) -> str:
        return str(self.manifest["config"]["digest"])

    @property
    def layer_digests(self) -> list[str]:
        return [str(layer["digest"]) for layer in self.manifest.get("layers", [])]

    @property
    def all_blobs(self) -> dict[str, bytes]:
        return dict(self.blobs)

    @property
    def manifests(self) -> dict[str, tuple[str, bytes]]:
        """Every manifest to push, children first: ``digest -> (media type, bytes)``."""
        return {self.digest: (self.media_type, self.manifest_bytes)}

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            result["platform"] = self.platform.as_dict()
        result.update(extra)
        return result


@dataclass(frozen=True)
class Index:
    """An OCI image index or Docker manifest list with its child images."""

    manifest_bytes: bytes
    media_type: str
    children: tuple[Image, ...]

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def size(self) -> int:
        return len(self.manifest_bytes)

    @property
    def manifest(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.manifest_bytes)
        return parsed

    @property
    def all_blobs(self) -> dict[str, bytes]:
        merged: dict[str, bytes] = {}
        for child in self.children:
            merged.update(child.blobs)
        return merged

    @property
    def manifests(self) -> dict[str, tuple[str, bytes]]:
        result = {child.digest: (child.media_type, child.manifest_bytes) for child in self.children}
        result[self.digest] = (self.media_type, self.manifest_bytes)
        return result

    def child(self, platform: str | Platform) -> Image:
        wanted = Platform.parse(platform) if isinstance(platform, str) else platform
        for child in self.children:
            if child.platform == wanted:
                return child
        raise KeyError(str(wanted))

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


def file_layer(files: Mapping[str, bytes]) -> bytes:
    """A gzipped tar with the given regular files; identical input gives identical bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    # Level 1: random payloads do not compress anyway, and a 30 MB layer stays fast.
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def random_layer(size_bytes: int, *, seed: int | None = None, name: str = "data.bin") -> bytes:
    """A tar.gz holding one file of ``size_bytes`` random bytes; a ``seed`` makes it repeatable."""
    content = os.urandom(size_bytes) if seed is None else random.Random(seed).randbytes(size_bytes)
    return file_layer({name: content})


def _diff_id(layer: bytes) -> str:
    return sha256_digest(gzip.decompress(layer))


def _config(diff_ids: Sequence[str], platform: Platform, extra: Mapping[str, Any]) -> bytes:
    config: dict[str, Any] = {
        "created": _FIXED_TIME,
        **platform.as_dict(),
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": _FIXED_TIME, "created_by": "pullgate tests"} for _ in diff_ids],
    }
    config.update(extra)
    return canonical_json(config)


def build_image(
    layers: Sequence[bytes] | None = None,
    *,
    platform: Platform | str = PLATFORMS[0],
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
    config_extra: Mapping[str, Any] | None = None,
) -> Image:
    """An image manifest (OCI, or Docker v2 with ``docker=True``) over gzipped tar ``layers``.

    Without ``layers`` a single small random layer is used, so two calls never collide.
    """
    plat = Platform.parse(platform) if isinstance(platform, str) else platform
    layer_list = list(layers) if layers is not None else [random_layer(256)]
    config = _config([_diff_id(layer) for layer in layer_list], plat, config_extra or {})
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": _descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config),
        "layers": [_descriptor(layer_type, layer) for layer in layer_list],
    }
    if annotations and not docker:
        manifest["annotations"] = dict(annotations)
    blobs = {sha256_digest(blob): blob for blob in (config, *layer_list)}
    return Image(canonical_json(manifest), media_type, blobs, plat)


def multi_layer_image(total_bytes: int, layer_count: int = 3, *, docker: bool = False) -> Image:
    """An image of ``layer_count`` random layers adding up to roughly ``total_bytes``."""
    per_layer = max(1, total_bytes // layer_count)
    return build_image([random_layer(per_layer) for _ in range(layer_count)], docker=docker)


def build_index(
    images: Iterable[Image], *, docker: bool = False, annotations: Mapping[str, str] | None = None
) -> Index:
    """An OCI index (or Docker manifest list) whose entries carry each image's platform."""
    children = tuple(images)
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor() for child in children],
    }
    if annotations and not docker:
        index["annotations"] = dict(annotations)
    return Index(canonical_json(index), media_type, children)


def multi_platform_index(
    platforms: Sequence[Platform | str] = PLATFORMS, *, docker: bool = False, layer_size: int = 512
) -> Index:
    """One small image per platform (default linux/amd64, linux/arm64, linux/arm/v7)."""
    images = [build_image([random_layer(layer_size)], platform=p, docker=docker) for p in platforms]
    return build_index(images, docker=docker)


def docker_manifest_list(platforms: Sequence[Platform | str] = PLATFORMS, *, layer_size: int = 512) -> Index:
    return multi_platform_index(platforms, docker=True, layer_size=layer_size)


def artifact_manifest(
    subject: Image | Index,
    *,
    artifact_type: str = "application/vnd.pullgate.test.sbom+json",
    payload: bytes = b'{"sbom":"test"}',
    annotations: Mapping[str, str] | None = None,
) -> Image:
    """An OCI 1.1 artifact: image manifest with ``artifactType``, empty config and ``subject``."""
    empty = b"{}"
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": _descriptor(OCI_EMPTY, empty),
        "layers": [_descriptor(artifact_type, payload)],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        "annotations": {"org.opencontainers.image.created": _FIXED_TIME, **(annotations or {})},
    }
    blobs = {sha256_digest(empty): empty, sha256_digest(payload): payload}
    return Image(canonical_json(manifest), OCI_MANIFEST, blobs)


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


class ImageFactory:
    """Reproducible test images: each call draws the next seed from ``base_seed``."""

    def __init__(self, base_seed: int = 0) -> None:
        self._seed = base_seed

    def _next(self) -> int:
        self._seed += 1
        return self._seed

    def layer(self, size_bytes: int = 256) -> bytes:
        return random_layer(size_bytes, seed=self._next())

    def image(
        self,
        size_bytes: int = 256,
        *,
        layers: int = 1,
        docker: bool = False,
        platform: Platform | str = PLATFORMS[0],
    ) -> Image:
        per_layer = max(1, size_bytes // layers)
        return build_image([self.layer(per_layer) for _ in range(layers)], platform=platform, docker=docker)

    def index(
        self, platforms: Sequence[Platform | str] = PLATFORMS, *, docker: bool = False, layer_size: int = 512
    ) -> Index:
        images = [self.image(layer_size, docker=docker, platform=p) for p in platforms]
        return build_index(images, docker=docker)

    def artifact(self, subject: Image | Index, payload: bytes | None = None) -> Image:
        return artifact_manifest(subject, payload=payload or f'{{"n":{self._next()}}}'.encode())
