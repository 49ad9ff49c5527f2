"""Mutated input: every extractor and the layer analyser either return or report, for any
bytes. Deterministic: the same seeds every run."""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable

import pytest

from proxy.scanning.inventory import (
    ExtractionError,
    Extractor,
    extract_apk,
    extract_dpkg,
    extract_go,
    extract_maven,
    extract_npm,
    extract_python,
    extract_rpm_bdb,
    extract_rpm_sqlite,
    parse_os_release,
)
from proxy.scanning.inventory.rpmheader import HeaderError, parse_header
from proxy.scanning.layers import Limits, analyse_layer
from proxy.scanning.model import LayerAnalysis
from tests.support.layers import OCI_GZIP, OCI_TAR, OCI_ZSTD, Layer, compress
from tests.unit.scanning.inventory.formats import go_binary, jar, modinfo, rpm_header, rpmdb_sqlite
from tests.unit.scanning.inventory.samples import (
    APK_INSTALLED,
    DEBIAN_OS_RELEASE,
    DPKG_STATUS,
    NPM_PACKAGE,
    PYTHON_METADATA,
)

ROUNDS = 150


def _mutations(seed_data: bytes, seed: int) -> list[bytes]:
    """Truncations, bit flips, byte runs overwritten and inserted, and chunks duplicated."""
    rng = random.Random(seed)
    out = []
    for _ in range(ROUNDS):
        data = bytearray(seed_data)
        for _ in range(rng.randint(1, 6)):
            where = rng.randrange(max(1, len(data)))
            action = rng.randrange(5)
            if action == 0:
                del data[where:]
            elif action == 1 and data:
                data[where % len(data)] ^= 1 << rng.randrange(8)
            elif action == 2:
                data[where : where + 4] = rng.choice(
                    [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]
                )
            elif action == 3:
                data[where:where] = rng.randbytes(rng.randint(1, 16))
            else:
                data[where:where] = data[where : where + rng.randint(1, 64)] * 3
        out.append(bytes(data))
    return out


SEEDS: list[tuple[str, Extractor, str, bytes]] = [
    ("dpkg", extract_dpkg, "var/lib/dpkg/status", DPKG_STATUS.encode()),
    ("apk", extract_apk, "lib/apk/db/installed", APK_INSTALLED.encode()),
    ("python", extract_python, "x.dist-info/METADATA", PYTHON_METADATA.encode()),
    ("npm", extract_npm, "node_modules/@babel/core/package.json", NPM_PACKAGE.encode()),
    (
        "rpm-sqlite",
        extract_rpm_sqlite,
        "var/lib/rpm/rpmdb.sqlite",
        rpmdb_sqlite([rpm_header("bash", "5.1", "1", epoch=2)] * 3),
    ),
    (
        "go-inline",
        extract_go,
        "bin/app",
        go_binary("go1.21.3", modinfo("a", ("a", "v1.0.0"), [("b", "v1", "c", "v2")])),
    ),
    (
        "go-pointers",
        extract_go,
        "bin/app",
        go_binary("go1.16.3", modinfo("a", ("a", "v1.0.0")), inline=False),
    ),
    (
        "go-macho",
        extract_go,
        "bin/app",
        go_binary("go1.16.3", modinfo("a", ("a", "v1.0.0")), inline=False, macho=True),
    ),
    (
        "maven",
        extract_maven,
        "app.war",
        jar([("g", "a", "1")], nested={"WEB-INF/lib/x.jar": jar([("g", "x", "2")])}),
    ),
]


@pytest.mark.parametrize(
    ("extractor", "path", "seed_data"), [seed[1:] for seed in SEEDS], ids=[seed[0] for seed in SEEDS]
)
def test_extractors_only_return_or_raise_extraction_error(
    extractor: Extractor, path: str, seed_data: bytes
) -> None:
    for number, data in enumerate(_mutations(seed_data, seed=len(path))):
        try:
            result = extractor(path, data, None)
        except ExtractionError as exc:
            assert exc.problems, f"mutation {number}: an ExtractionError names its problems"
        else:
            assert isinstance(result, tuple), f"mutation {number}"


def test_berkeley_db_reader_on_mutated_pages() -> None:
    page = 4096
    meta = bytearray(page)
    meta[12:16] = (0x061561).to_bytes(4, "little")
    meta[20:24] = page.to_bytes(4, "little")
    meta[25] = 8
    meta[32:36] = (2).to_bytes(4, "little")
    hash_page = bytearray(page)
    hash_page[25] = 13
    hash_page[20:22] = (2).to_bytes(2, "little")
    blob = rpm_header("bash", "5.1", "1")
    # Items fill the page from its end: the key (item 0) last, its data (item 1) before it.
    key, value = b"\x01" + b"\x01\x00\x00\x00", b"\x01" + blob
    key_at = page - len(key)
    value_at = key_at - len(value)
    hash_page[26:30] = key_at.to_bytes(2, "little") + value_at.to_bytes(2, "little")
    hash_page[value_at:key_at] = value
    hash_page[key_at:] = key
    database = bytes(meta + hash_page + bytearray(page))
    assert [p.name for p in extract_rpm_bdb("var/lib/rpm/Packages", database, None)] == ["bash"]
    test_extractors_only_return_or_raise_extraction_error(extract_rpm_bdb, "var/lib/rpm/Packages", database)


def test_rpm_header_parser_on_mutations() -> None:
    for data in _mutations(rpm_header("openssl-libs", "3.0.7", "24.el9", epoch=1), seed=7):
        with contextlib.suppress(HeaderError):
            parse_header(data)


def test_os_release_parser_on_mutations() -> None:
    for data in _mutations(DEBIAN_OS_RELEASE.encode(), seed=3):
        parse_os_release(data)


LAYER = (
    Layer()
    .file("etc/os-release", DEBIAN_OS_RELEASE)
    .file("var/lib/dpkg/status", DPKG_STATUS)
    .symlink("etc/alternatives/x", "/x")
    .hardlink("var/lib/dpkg/status.d/x", "var/lib/dpkg/status")
    .file("app/node_modules/a/package.json", NPM_PACKAGE)
    .whiteout("opt/old")
    .file("x/" * 60 + "long", "x")  # a PAX header
    .tar()
)


@pytest.mark.parametrize(
    ("compression", "media_type", "analyse"),
    [
        ("none", OCI_TAR, None),
        ("gzip", OCI_GZIP, None),
        ("zstd", OCI_ZSTD, None),
        ("none-then-gzip", OCI_GZIP, "after"),
    ],
)
def test_layer_analyser_on_mutated_layers(compression: str, media_type: str, analyse: str | None) -> None:
    """Mutated tar streams, mutated compressed streams, and mutated tar streams compressed
    after mutation (so the decompressor succeeds and tarfile sees the damage)."""
    limits = Limits(max_layer_bytes=16 * 1024 * 1024)
    if analyse == "after":
        blobs = [compress(data, "gzip") for data in _mutations(LAYER, seed=11)]
    else:
        blobs = _mutations(compress(LAYER, compression), seed=13)  # type: ignore[arg-type]
    for number, blob in enumerate(blobs):
        result = analyse_layer(io.BytesIO(blob), digest="sha256:x", media_type=media_type, limits=limits)
        assert isinstance(result, LayerAnalysis), f"mutation {number}"


_: Callable[..., object] = extract_maven  # the fuzzed extractors keep their documented signature
