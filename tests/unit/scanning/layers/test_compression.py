"""Which compression a layer has: media type and magic bytes; streams that cannot seek."""

from __future__ import annotations

import io

import pytest

from proxy.scanning.layers import Compression, analyse_layer, declared_compression
from tests.support.layers import DIGEST, DOCKER_GZIP, OCI_GZIP, OCI_TAR, OCI_ZSTD, CompressionName, Layer
from tests.unit.scanning.inventory.samples import ALPINE_OS_RELEASE, APK_INSTALLED

LAYER = (
    Layer().dir("etc").file("etc/os-release", ALPINE_OS_RELEASE).file("lib/apk/db/installed", APK_INSTALLED)
)
APK_NAMES = ["musl", "busybox", "ssl_client", "libcrypto3"]


@pytest.mark.parametrize(
    ("compression", "media_type"),
    [
        ("gzip", OCI_GZIP),
        ("zstd", OCI_ZSTD),
        ("none", OCI_TAR),
        ("gzip", DOCKER_GZIP),
        ("gzip", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
        ("gzip", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
        ("zstd", "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"),
        ("none", "application/vnd.oci.image.layer.nondistributable.v1.tar"),
        ("gzip", "Application/VND.OCI.Image.Layer.v1.Tar+Gzip; charset=binary"),
    ],
)
def test_every_layer_media_type(compression: CompressionName, media_type: str) -> None:
    analysis = analyse_layer(LAYER.stream(compression), digest=DIGEST, media_type=media_type)
    assert analysis.problems == ()
    assert analysis.os is not None and analysis.os.ecosystem == "Alpine:v3.20"
    assert [p.name for p in analysis.files["lib/apk/db/installed"]] == APK_NAMES
    assert {p.layer for p in analysis.files["lib/apk/db/installed"]} == {DIGEST}


def test_declared_compression() -> None:
    assert declared_compression(OCI_ZSTD) is Compression.ZSTD
    assert declared_compression("application/vnd.oci.image.config.v1+json") is None


@pytest.mark.parametrize(
    ("actual", "declared"), [("zstd", OCI_GZIP), ("none", DOCKER_GZIP), ("gzip", OCI_TAR)]
)
def test_the_magic_bytes_win_and_the_mismatch_is_reported(actual: CompressionName, declared: str) -> None:
    analysis = analyse_layer(LAYER.stream(actual), digest=DIGEST, media_type=declared)
    assert [p.name for p in analysis.files["lib/apk/db/installed"]] == APK_NAMES
    (problem,) = analysis.problems
    assert problem.startswith("media type declares") and problem.endswith(
        f"read as {Compression[actual.upper()].value}"
    )


def test_not_a_layer_is_not_read() -> None:
    analysis = analyse_layer(LAYER.stream(), digest=DIGEST, media_type="application/vnd.in-toto+json")
    assert analysis.files == {} and analysis.problems == (
        "not an image layer media type: 'application/vnd.in-toto+json'; not analysed",
    )


def test_empty_and_garbage_blobs() -> None:
    assert analyse_layer(io.BytesIO(b""), digest=DIGEST, media_type=OCI_GZIP).problems == (
        "empty layer blob",
    )
    (_mismatch, corrupt) = analyse_layer(
        io.BytesIO(b"garbage" * 100), digest=DIGEST, media_type=OCI_GZIP
    ).problems
    assert corrupt.startswith("corrupt uncompressed layer: ReadError")
    (corrupt,) = analyse_layer(
        io.BytesIO(b"\x1f\x8b" + b"\x00" * 100), digest=DIGEST, media_type=OCI_GZIP
    ).problems
    assert corrupt.startswith("corrupt gzip layer")


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_truncated_layer_keeps_what_was_read(compression: CompressionName) -> None:
    filler = bytes(range(256)) * 4096  # 1 MiB that compresses poorly, between the two files
    layer = (
        Layer()
        .file("etc/os-release", ALPINE_OS_RELEASE)
        .file("opt/filler", filler)
        .file("lib/apk/db/installed", APK_INSTALLED)
    )
    blob = layer.build(compression)
    analysis = analyse_layer(io.BytesIO(blob[: len(blob) // 2]), digest=DIGEST, media_type=OCI_GZIP)
    assert analysis.os is not None and analysis.os.id == "alpine"
    assert "lib/apk/db/installed" not in analysis.files
    assert analysis.problems[-1].startswith(f"corrupt {Compression[compression.upper()].value} layer")


class _Trickle(io.RawIOBase):
    """A socket-like stream: no seeking, and at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(7, len(buffer), len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_stream_that_trickles_and_cannot_seek(compression: CompressionName) -> None:
    stream = _Trickle(LAYER.build(compression))
    analysis = analyse_layer(io.BufferedReader(stream), digest=DIGEST, media_type=OCI_GZIP)
    assert [p.name for p in analysis.files["lib/apk/db/installed"]] == APK_NAMES
