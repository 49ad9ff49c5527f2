"""Decompression bombs: stopped at the limit, reported, bounded in time and memory, and what
was found before them kept."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest

from proxy.scanning.layers import Limits, analyse_layer
from tests.support.layers import DIGEST, MEDIA_TYPES, CompressionName, Layer, bomb
from tests.unit.scanning.inventory.samples import ALPINE_OS_RELEASE, APK_INSTALLED

_MIB = 1024 * 1024
BEFORE = Layer().file("etc/os-release", ALPINE_OS_RELEASE).file("lib/apk/db/installed", APK_INSTALLED)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_gigabyte_of_zeros_is_stopped_at_the_limit(compression: CompressionName) -> None:
    blob = bomb(1024 * _MIB, compression=compression, before=BEFORE)
    assert len(blob) < 2 * _MIB  # a few hundred times smaller than what it expands to
    tracemalloc.start()
    started = time.monotonic()
    try:
        analysis = analyse_layer(
            io.BytesIO(blob),
            digest=DIGEST,
            media_type=MEDIA_TYPES[compression],
            limits=Limits(max_layer_bytes=64 * _MIB),
        )
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert analysis.problems == (
        f"limit reached: more than {64 * _MIB} decompressed bytes (possible decompression bomb); "
        "analysis stopped, packages found so far are reported",
    )
    assert analysis.os is not None and len(analysis.files["lib/apk/db/installed"]) == 4
    assert elapsed < 10
    assert peak < 16 * _MIB, f"peak {peak} bytes while reading a bomb"


def test_a_bomb_posing_as_a_package_database_is_skipped_then_stopped() -> None:
    blob = bomb(256 * _MIB, name="var/lib/dpkg/status")
    analysis = analyse_layer(
        io.BytesIO(blob),
        digest=DIGEST,
        media_type=MEDIA_TYPES["gzip"],
        limits=Limits(max_layer_bytes=128 * _MIB),
    )
    assert analysis.files == {"var/lib/dpkg/status": ()}
    skipped, stopped = analysis.problems
    assert skipped.endswith("over the 67108864-byte limit for one file; skipped")
    assert "possible decompression bomb" in stopped


def test_a_large_layer_within_the_limit_is_read_to_the_end() -> None:
    """Zeros are not proof of a bomb: under the limit the walk goes on past them."""
    after = Layer().file("etc/os-release", ALPINE_OS_RELEASE)
    analysis = analyse_layer(
        io.BytesIO(bomb(64 * _MIB, after=after)), digest=DIGEST, media_type=MEDIA_TYPES["gzip"]
    )
    assert analysis.problems == () and analysis.os is not None
