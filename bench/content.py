"""The benchmark's images: random layers streamed to disk, then pushed to the upstream.

``tests.support.images`` builds images in memory, which is right for tests but means several
copies of a 1 GB layer at once; here a layer is written to a file in pieces while both of its
digests are computed, and uploaded from that file. Manifests and small blobs still go
through ``tests.support.push``.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from tests.support.images import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, canonical_json, sha256_digest
from tests.support.push import push_blob, push_manifest

__all__ = ["BenchImage", "LayerFile", "build_image_files", "push_bench_image", "write_random_layer"]

_PIECE = 4 * 1024 * 1024
_FIXED_TIME = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class LayerFile:
    path: Path
    digest: str  # of the gzip stream, as pushed
    diff_id: str  # of the tar inside
    size: int


@dataclass(frozen=True)
class BenchImage:
    repo: str
    tag: str
    layers: tuple[LayerFile, ...]
    config: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256_digest(self.config)

    @property
    def total_bytes(self) -> int:
        return sum(layer.size for layer in self.layers) + len(self.config)

    @property
    def blob_digests(self) -> list[str]:
        return [self.config_digest, *(layer.digest for layer in self.layers)]

    @property
    def reference(self) -> str:
        return f"{self.repo}:{self.tag}"


class _HashingWriter:
    """A file sink that hashes what it is given (the compressed stream)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.hasher.update(data)
        self.size += len(data)

    def close(self) -> None:
        self._file.close()


def write_random_layer(path: Path, payload_bytes: int) -> LayerFile:
    """A gzip'd tar holding one file of random bytes, written in pieces.

    Random bytes do not compress, so the gzip stream uses stored blocks (level 0): a valid
    layer every runtime accepts, produced at disk speed rather than deflate speed.
    """
    sink = _HashingWriter(path)
    diff = hashlib.sha256()
    compressor = zlib.compressobj(0, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing

    def emit(tar_bytes: bytes) -> None:
        diff.update(tar_bytes)
        sink.write(compressor.compress(tar_bytes))

    try:
        info = tarfile.TarInfo("data.bin")
        info.size, info.mode, info.mtime = payload_bytes, 0o644, 0
        emit(info.tobuf(format=tarfile.PAX_FORMAT))
        remaining = payload_bytes
        while remaining:
            piece = os.urandom(min(_PIECE, remaining))
            emit(piece)
            remaining -= len(piece)
        padding = (-payload_bytes) % tarfile.BLOCKSIZE
        emit(b"\0" * (padding + 2 * tarfile.BLOCKSIZE))  # pad the member, then end of archive
        sink.write(compressor.flush())
    finally:
        sink.close()
    return LayerFile(path, "sha256:" + sink.hasher.hexdigest(), "sha256:" + diff.hexdigest(), sink.size)


def _config(layers: Sequence[LayerFile]) -> bytes:
    return canonical_json(
        {
            "created": _FIXED_TIME,
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": _FIXED_TIME, "created_by": "pullgate bench"} for _ in layers],
        }
    )


def _manifest(config: bytes, layers: Sequence[LayerFile]) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": layer.digest, "size": layer.size} for layer in layers
            ],
        }
    )


def build_image_files(directory: Path, repo: str, tag: str, layer_payloads: Sequence[int]) -> BenchImage:
    """An OCI image of random layers with the given payload sizes, layers written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    slug = repo.replace("/", "_")
    layers = tuple(
        write_random_layer(directory / f"{slug}-{tag}-{index}.tar.gz", size)
        for index, size in enumerate(layer_payloads)
    )
    config = _config(layers)
    return BenchImage(repo, tag, layers, config, _manifest(config, layers))


async def _push_layer_file(
    session: aiohttp.ClientSession, base_url: str, repo: str, layer: LayerFile
) -> None:
    """Monolithic upload streamed from the file: POST, then PUT ?digest= with the body."""
    async with session.post(f"{base_url}/v2/{repo}/blobs/uploads/") as resp:
        if resp.status != 202:
            raise RuntimeError(f"upload start for {layer.digest}: {resp.status} {await resp.text()}")
        location = URL(base_url).join(URL(resp.headers["Location"]))
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(layer.size)}
    with layer.path.open("rb") as body:
        async with session.put(
            location.update_query(digest=layer.digest), data=body, headers=headers
        ) as resp:
            if resp.status != 201:
                raise RuntimeError(f"upload {layer.digest}: {resp.status} {await resp.text()}")


async def push_bench_image(base_url: str, image: BenchImage) -> None:
    """Layers from their files, then config and manifest (by digest and by tag)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for layer in image.layers:
            await _push_layer_file(session, base_url, image.repo, layer)
        await push_blob(session, base_url, image.repo, image.config)
        for reference in (image.digest, image.tag):
            await push_manifest(session, base_url, image.repo, reference, OCI_MANIFEST, image.manifest)
