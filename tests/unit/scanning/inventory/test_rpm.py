"""rpm: header blobs, the SQLite database, the Berkeley DB one; real ones where rpm is here."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from proxy.scanning.inventory import (
    ExtractionError,
    build_inventory,
    extract_rpm_bdb,
    extract_rpm_sqlite,
    parse_os_release,
)
from proxy.scanning.inventory.rpmheader import HeaderError, parse_header
from proxy.scanning.model import Package
from tests.support.layers import Layer
from tests.unit.scanning.inventory.formats import rpm_header, rpmdb_sqlite
from tests.unit.scanning.inventory.samples import ROCKY_OS_RELEASE

ROCKY = parse_os_release(ROCKY_OS_RELEASE.encode())
SQLITE = "var/lib/rpm/rpmdb.sqlite"
OPENSSL = rpm_header("openssl-libs", "3.0.7", "24.el9", epoch=1, source_rpm="openssl-3.0.7-24.el9.src.rpm")
BASH = rpm_header("bash", "5.1.8", "6.el9_1")
KEY = rpm_header("gpg-pubkey", "350d275d", "6279464b", arch="(none)", source_rpm="")


def test_header_fields() -> None:
    header = parse_header(OPENSSL)
    assert (header.name, header.version, header.release, header.epoch, header.arch) == (
        "openssl-libs",
        "3.0.7",
        "24.el9",
        1,
        "x86_64",
    )
    assert header.source_rpm == "openssl-3.0.7-24.el9.src.rpm"


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x00\x00\x01",
        struct.pack(">iI", 0x7FFFFFFF, 16),  # more entries than rpm allows
        struct.pack(">iI", 1, 4) + struct.pack(">iIiI", 1000, 6, 0, 1),  # data store missing
        struct.pack(">iI", 1, 4) + struct.pack(">iIiI", 1000, 6, 99, 1) + b"abc\x00",  # offset out
        struct.pack(">iI", 1, 3) + struct.pack(">iIiI", 1000, 6, 0, 1) + b"abc",  # unterminated
        struct.pack(">iI", 1, 4) + struct.pack(">iIiI", 1004, 6, 0, 1) + b"abc\x00",  # no NAME
    ],
)
def test_malformed_headers_raise_header_error(blob: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_header(blob)


def test_sqlite_database() -> None:
    packages = extract_rpm_sqlite(SQLITE, rpmdb_sqlite([OPENSSL, KEY, BASH]), ROCKY)
    # Imported signing keys are listed as gpg-pubkey "packages": not software, left out.
    assert [(p.name, p.version, p.source_name, p.source_version) for p in packages] == [
        ("openssl-libs", "1:3.0.7-24.el9", "openssl", None),
        ("bash", "5.1.8-6.el9_1", "bash", None),
    ]
    assert {p.ecosystem for p in packages} == {"Rocky Linux:9"}
    assert packages[0].purl == "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1"


def test_broken_header_is_reported_and_the_rest_kept() -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_rpm_sqlite(SQLITE, rpmdb_sqlite([OPENSSL, OPENSSL[:40], BASH]), ROCKY)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith("package header 2:")
    assert [p.name for p in caught.value.packages] == ["openssl-libs", "bash"]


def test_not_a_database_and_distrusted_schemas() -> None:
    with pytest.raises(ExtractionError, match="unreadable rpm SQLite database"):
        extract_rpm_sqlite(SQLITE, b"SQLite format 3\x00" + b"\xff" * 200, ROCKY)
    connection = sqlite3.connect(":memory:")
    # A view over a recursive query would never finish: only a plain table is read.
    connection.execute(
        "CREATE VIEW Packages AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x AS blob FROM n"
    )
    with pytest.raises(ExtractionError, match="no Packages table"):
        extract_rpm_sqlite(SQLITE, connection.serialize(), ROCKY)


# --- real databases, written by rpm itself and by libdb -------------------------------------

_SPEC = """\
Name: {name}
Version: {version}
Release: {release}
{epoch}Summary: pullgate test package
License: MIT
BuildArch: noarch
%description
{description}
%files
{subpackage}
"""
_SUBPACKAGE = """\
%package -n pullgate-tools
Summary: a subpackage: its source rpm is pullgate-suite's
%description -n pullgate-tools
tools
%files -n pullgate-tools
"""
_QUERY = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n"


def _rpm(*args: str) -> str:
    result = subprocess.run(["rpm", *args], capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def real_rpmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An rpmdb.sqlite written by `rpm -i --justdb` from packages rpmbuild made."""
    if shutil.which("rpmbuild") is None:
        pytest.skip("rpmbuild not installed (Debian package rpm)")
    root = tmp_path_factory.mktemp("rpm")
    specs = [
        dict(name="pullgate-libs", version="3.0.7", release="24.el9", epoch="Epoch: 1\n", description="x"),
        # A long description makes the header larger than a Berkeley DB page: overflow pages.
        dict(name="pullgate-big", version="1.0", release="1.el9", epoch="", description="long " * 4000),
        dict(
            name="pullgate-suite",
            version="2.1",
            release="1.el9",
            epoch="",
            description="y",
            subpackage=_SUBPACKAGE,
        ),
    ]
    for spec in specs:
        path = root / f"{spec['name']}.spec"
        path.write_text(
            _SPEC.format(subpackage="", **spec) if "subpackage" not in spec else _SPEC.format(**spec)
        )
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {root / 'build'}", "-bb", str(path)],
            capture_output=True,
            check=True,
        )
    database = root / "db"
    rpms = sorted(str(path) for path in (root / "build" / "RPMS").rglob("*.rpm"))
    _rpm("--dbpath", str(database), "--initdb")
    _rpm("--dbpath", str(database), "-i", "--justdb", "--nodeps", "--ignoreos", "--ignorearch", *rpms)
    return database


def _expected(query_output: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in query_output.splitlines():
        name, epoch, version_release, arch, source_rpm = line.split("\t")
        version = f"{epoch}:{version_release}" if epoch != "0" else version_release
        rows.append((name, version, arch, source_rpm.removesuffix(".src.rpm").rsplit("-", 2)[0]))
    return sorted(rows)


def _mine(packages: Sequence[Package]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (p.name, p.version, (p.purl or "").split("arch=")[1].split("&")[0], p.advisory_name) for p in packages
    )


def test_real_sqlite_database_matches_rpm(real_rpmdb: Path) -> None:
    expected = _expected(_rpm("--dbpath", str(real_rpmdb), "-qa", "--qf", _QUERY))
    assert len(expected) == 4 and ("pullgate-tools", "2.1-1.el9", "noarch", "pullgate-suite") in expected
    layer = (
        Layer()
        .file("etc/os-release", ROCKY_OS_RELEASE)
        .file(SQLITE, (real_rpmdb / "rpmdb.sqlite").read_bytes())
    )
    inventory = build_inventory([layer.analyse()])
    assert inventory.problems == ()
    assert _mine(inventory.packages) == expected
    assert {p.ecosystem for p in inventory.packages} == {"Rocky Linux:9"}


def test_real_berkeley_db_matches_rpm(real_rpmdb: Path, tmp_path: Path) -> None:
    """The same headers in a Berkeley DB hash database written by libdb's db_load, checked
    first with rpm's own read-only BDB backend, then with the extractor."""
    load = shutil.which("db5.3_load") or shutil.which("db_load")
    if load is None:
        pytest.skip("db_load not installed (Debian package db5.3-util)")
    rows = sqlite3.connect(real_rpmdb / "rpmdb.sqlite").execute("SELECT hnum, blob FROM Packages").fetchall()
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    # Key 0 holds the next header instance number, as rpm's own Packages database does.
    dump += [" " + struct.pack("<I", 0).hex(), " " + struct.pack("<I", len(rows) + 1).hex()]
    for number, blob in rows:
        dump += [" " + struct.pack("<I", number).hex(), " " + blob.hex()]
    (tmp_path / "dump").write_text("\n".join([*dump, "DATA=END", ""]))
    (tmp_path / "db").mkdir()
    subprocess.run([load, "-f", str(tmp_path / "dump"), str(tmp_path / "db" / "Packages")], check=True)
    expected = _expected(
        _rpm("--dbpath", str(tmp_path / "db"), "--define", "_db_backend bdb_ro", "-qa", "--qf", _QUERY)
    )
    assert expected == _expected(_rpm("--dbpath", str(real_rpmdb), "-qa", "--qf", _QUERY))

    data = (tmp_path / "db" / "Packages").read_bytes()
    assert _mine(extract_rpm_bdb("var/lib/rpm/Packages", data, ROCKY)) == expected
    # Cut short, the database is reported, not crashed on.
    with pytest.raises(ExtractionError):
        extract_rpm_bdb("var/lib/rpm/Packages", data[: len(data) // 2] + b"\x00" * 7, ROCKY)
