"""Opening a layer blob as a stream of tar bytes: which compression, and how much of it.

The media type says what the layer should be; the first bytes say what it is. Registries and
build tools get the media type wrong often enough (zstd layers labelled gzip, uncompressed
layers labelled `+gzip`) that the magic bytes decide, and a disagreement is reported.
"""

from __future__ import annotations

import enum
import gzip
import io
from collections.abc import Mapping
from types import MappingProxyType
from typing import BinaryIO, cast

import zstandard

__all__ = [
    "Compression",
    "LayerLimitReached",
    "bounded",
    "declared_compression",
    "decompressor",
    "read_prefix",
    "sniff",
]

_OCI = "application/vnd.oci.image.layer"
_DOCKER = "application/vnd.docker.image.rootfs"


class Compression(enum.Enum):
    NONE = "uncompressed"
    GZIP = "gzip"
    ZSTD = "zstd"


# Layer media types of the OCI image spec (including the deprecated non-distributable ones)
# and of Docker image manifest v2 (including foreign layers, and the uncompressed variant some
# tools write).
_LAYER_TYPES: Mapping[str, Compression] = MappingProxyType(
    {
        f"{_OCI}.v1.tar": Compression.NONE,
        f"{_OCI}.v1.tar+gzip": Compression.GZIP,
        f"{_OCI}.v1.tar+zstd": Compression.ZSTD,
        f"{_OCI}.nondistributable.v1.tar": Compression.NONE,
        f"{_OCI}.nondistributable.v1.tar+gzip": Compression.GZIP,
        f"{_OCI}.nondistributable.v1.tar+zstd": Compression.ZSTD,
        f"{_DOCKER}.diff.tar": Compression.NONE,
        f"{_DOCKER}.diff.tar.gzip": Compression.GZIP,
        f"{_DOCKER}.diff.tar.zstd": Compression.ZSTD,
        f"{_DOCKER}.foreign.diff.tar": Compression.NONE,
        f"{_DOCKER}.foreign.diff.tar.gzip": Compression.GZIP,
    }
)

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_TAR_MAGIC_OFFSET = 257  # "ustar" in a POSIX or GNU header
SNIFF_BYTES = 512


class LayerLimitReached(Exception):
    """More decompressed bytes than `Limits.max_layer_bytes`: raised from inside tarfile's reads
    so the walk stops wherever it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"limit reached: more than {limit} decompressed bytes (possible decompression bomb); "
            "analysis stopped, packages found so far are reported"
        )


def declared_compression(media_type: str) -> Compression | None:
    """The compression a layer media type declares, or None for a type that is not a layer."""
    return _LAYER_TYPES.get(media_type.split(";", 1)[0].strip().lower())


def sniff(prefix: bytes) -> Compression | None:
    """The compression the first bytes show, or None when they show neither a compressed stream
    nor a tar header (an old v7 tar has no magic, so None is not proof of garbage)."""
    if prefix.startswith(_GZIP_MAGIC):
        return Compression.GZIP
    if prefix.startswith(_ZSTD_MAGIC):
        return Compression.ZSTD
    if prefix[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar":
        return Compression.NONE
    return None


def decompressor(source: BinaryIO, compression: Compression) -> BinaryIO:
    """A reader of the decompressed bytes. Both decompressors produce output in bounded pieces
    as it is read, never all at once; zstd's window is capped by libzstd's default (128 MiB)."""
    if compression is Compression.GZIP:
        return cast(BinaryIO, gzip.GzipFile(fileobj=source, mode="rb"))
    if compression is Compression.ZSTD:
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False)
        return cast(BinaryIO, reader)
    return source


class _Prefixed(io.RawIOBase):
    """`prefix` followed by the rest of `source`: lets the magic bytes be read from a stream
    that cannot seek back."""

    def __init__(self, prefix: bytes, source: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Bounded(io.RawIOBase):
    """Counts the bytes read and raises `LayerLimitReached` past `limit`. Every byte tarfile
    sees goes through here, including the data of entries it skips."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        # Asking for one byte past the limit tells "exactly at the limit" from "beyond it".
        wanted = min(len(buffer), self._limit - self.count + 1)
        data = self._source.read(wanted)
        self.count += len(data)
        if self.count > self._limit:
            raise LayerLimitReached(self._limit)
        buffer[: len(data)] = data
        return len(data)


def read_prefix(source: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first bytes of `source` (for `sniff`) and a stream that still starts at byte 0."""
    prefix = b""
    while len(prefix) < SNIFF_BYTES:
        chunk = source.read(SNIFF_BYTES - len(prefix))
        if not chunk:
            break
        prefix += chunk
    return prefix, io.BufferedReader(_Prefixed(prefix, source))


def bounded(source: BinaryIO, limit: int) -> BinaryIO:
    """`source`, raising `LayerLimitReached` once more than `limit` bytes were read from it."""
    return io.BufferedReader(_Bounded(source, limit), buffer_size=64 * 1024)
