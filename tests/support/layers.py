"""Image layers and the files inside them, built in memory for the layer analyser's tests.

`Layer` writes real tar streams (through `tarfile`, so headers are what real tools write),
compressed with gzip, zstd or nothing. It can also write what real tools never should:
absolute and `..` names, links out of the root, devices. The bombs are built from many
identical gzip members or zstd frames (both formats allow concatenation), so a gigabyte of
zeros costs a megabyte and milliseconds to make.

The files to put in them (Go executables, rpm databases, Java archives) are built by
`tests.unit.scanning.inventory.formats`.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field
from typing import Literal

import zstandard

from proxy.scanning.layers import Limits, analyse_layer
from proxy.scanning.model import LayerAnalysis

__all__ = [
    "DIGEST",
    "DOCKER_GZIP",
    "MEDIA_TYPES",
    "OCI_GZIP",
    "OCI_TAR",
    "OCI_ZSTD",
    "CompressionName",
    "Layer",
    "bomb",
]

CompressionName = Literal["gzip", "zstd", "none"]

OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DIGEST = "sha256:" + "ab" * 32
MEDIA_TYPES: dict[CompressionName, str] = {"gzip": OCI_GZIP, "zstd": OCI_ZSTD, "none": OCI_TAR}

_MIB = 1024 * 1024
_END = b"\x00" * (2 * tarfile.BLOCKSIZE)  # two zero blocks end a tar archive


@dataclass
class Layer:
    """Entries in the order they are added, which is the order they appear in the tar."""

    entries: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def _add(
        self, name: str, kind: bytes, *, data: bytes | None = None, mode: int = 0o644, link: str = ""
    ) -> Layer:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.linkname = link
        info.size = len(data) if data is not None else 0
        info.mtime = 1_700_000_000
        # A ustar name or link field ends at the first NUL; a PAX record carries it through
        # (else a link to "x\x00y" would be read back as a link to "x").
        pax = {key: value for key, value in (("path", name), ("linkpath", link)) if "\x00" in value}
        if pax:
            info.pax_headers = pax
        self.entries.append((info, data))
        return self

    def file(self, name: str, data: bytes | str, *, mode: int = 0o644) -> Layer:
        return self._add(
            name, tarfile.REGTYPE, data=data.encode() if isinstance(data, str) else data, mode=mode
        )

    def dir(self, name: str) -> Layer:
        return self._add(name, tarfile.DIRTYPE, mode=0o755)

    def symlink(self, name: str, target: str) -> Layer:
        return self._add(name, tarfile.SYMTYPE, link=target, mode=0o777)

    def hardlink(self, name: str, target: str) -> Layer:
        return self._add(name, tarfile.LNKTYPE, link=target)

    def device(self, name: str) -> Layer:
        return self._add(name, tarfile.CHRTYPE)

    def fifo(self, name: str) -> Layer:
        return self._add(name, tarfile.FIFOTYPE)

    def whiteout(self, path: str) -> Layer:
        """Delete `path` from the layers below (`dir/.wh.NAME`)."""
        parent, _, name = path.rpartition("/")
        return self.file(f"{parent}/.wh.{name}" if parent else f".wh.{name}", b"")

    def opaque(self, directory: str) -> Layer:
        """Hide what the layers below have in `directory` (`dir/.wh..wh..opq`)."""
        return self.file(f"{directory}/.wh..wh..opq" if directory else ".wh..wh..opq", b"")

    def members(self) -> bytes:
        """The entries as tar headers and data, without the end-of-archive blocks (so more
        entries, or a bomb, can follow)."""
        out = bytearray()
        for info, data in self.entries:
            # PAX keeps long and odd names exactly as given: nothing is "fixed" on the way in.
            out += info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
            if data:
                out += data + b"\x00" * (-len(data) % tarfile.BLOCKSIZE)
        return bytes(out)

    def tar(self) -> bytes:
        return self.members() + _END

    def build(self, compression: CompressionName = "gzip") -> bytes:
        return compress(self.tar(), compression)

    def stream(self, compression: CompressionName = "gzip") -> io.BytesIO:
        return io.BytesIO(self.build(compression))

    def analyse(
        self, compression: CompressionName = "gzip", *, digest: str = DIGEST, **limits: int
    ) -> LayerAnalysis:
        """This layer through `analyse_layer`, with the media type its compression calls for."""
        return analyse_layer(
            self.stream(compression),
            digest=digest,
            media_type=MEDIA_TYPES[compression],
            limits=Limits(**limits),
        )


def compress(data: bytes, compression: CompressionName) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def bomb(
    size: int = 1024 * _MIB,
    *,
    name: str = "zeros.bin",
    compression: CompressionName = "gzip",
    before: Layer | None = None,
    after: Layer | None = None,
) -> bytes:
    """A valid layer holding one file of `size` zeros (`size` a multiple of 1 MiB), after the
    entries of `before` and before those of `after`: about 1 MB compressed for the default
    gigabyte, made in milliseconds."""
    assert size % _MIB == 0
    info = tarfile.TarInfo(name)
    info.size = size
    head = (before.members() if before else b"") + info.tobuf(format=tarfile.USTAR_FORMAT)
    tail = (after.members() if after else b"") + _END  # `size` needs no padding to a block
    zeros = compress(b"\x00" * _MIB, compression)
    return compress(head, compression) + zeros * (size // _MIB) + compress(tail, compression)
