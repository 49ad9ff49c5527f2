"""Which entries the analyser reads, and what each yields, in real layer streams."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.scanning.layers.interest import Kind, classify
from tests.support.layers import Layer
from tests.unit.scanning.inventory.formats import go_binary, jar, modinfo, rpm_header, rpmdb_sqlite
from tests.unit.scanning.inventory.samples import (
    DEBIAN_OS_RELEASE,
    DISTROLESS_LIBSSL,
    DPKG_STATUS,
    NPM_PACKAGE,
    PYTHON_METADATA,
    ROCKY_OS_RELEASE,
)

SITE = "usr/local/lib/python3.11/site-packages"
SERVER = go_binary(
    "go1.21.3",
    modinfo("example.com/server", ("example.com/server", "v1.2.0"), [("golang.org/x/net", "v0.17.0")]),
)
_MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("var/lib/dpkg/status", Kind.DPKG),
        ("var/lib/dpkg/status.d/libssl3", Kind.DPKG),
        ("var/lib/dpkg/status.d/libssl3.md5sums", None),
        ("var/lib/dpkg/status.d/nested/x", None),
        ("var/lib/dpkg/status-old", None),
        ("lib/apk/db/installed", Kind.APK),
        ("var/lib/rpm/rpmdb.sqlite", Kind.RPM_SQLITE),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", Kind.RPM_SQLITE),
        ("var/lib/rpm/Packages", Kind.RPM_BDB),
        ("usr/lib/sysimage/rpm/Packages.db", Kind.RPM_NDB),
        ("etc/os-release", Kind.OS_RELEASE),
        ("usr/lib/os-release", Kind.OS_RELEASE),
        ("opt/etc/os-release", None),
        (f"{SITE}/requests-2.31.0.dist-info/METADATA", Kind.PYTHON),
        (f"{SITE}/requests-2.31.0.dist-info/RECORD", None),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", Kind.PYTHON),
        ("usr/lib/python3/dist-packages/distro_info-1.5.egg-info", Kind.PYTHON),
        ("app/node_modules/lodash/package.json", Kind.NPM),
        ("app/node_modules/@babel/core/package.json", Kind.NPM),
        ("app/node_modules/a/node_modules/b/package.json", Kind.NPM),
        ("app/node_modules/.pnpm/b@1.0.0/node_modules/b/package.json", Kind.NPM),
        ("app/node_modules/lodash/test/fixtures/package.json", None),
        ("app/node_modules/@babel/package.json", None),
        ("app/node_modules/.cache/package.json", None),
        ("app/node_modules/lodash/lib/package.json", None),
        ("app/package.json", None),
        ("opt/app/app.jar", Kind.JAVA),
        ("opt/app/ROOT.WAR", Kind.JAVA),
        ("opt/app/app.ear", Kind.JAVA),
        ("opt/app/app.jar.sha1", None),
    ],
)
def test_classification(path: str, kind: Kind | None) -> None:
    assert classify(path) == kind


def test_a_debian_application_layer() -> None:
    war = jar(
        [("com.example", "shop", "1.4.0")],
        nested={"WEB-INF/lib/log4j-core.jar": jar([("org.apache.logging.log4j", "log4j-core", "2.17.1")])},
    )
    analysis = (
        Layer()
        .file("usr/lib/os-release", DEBIAN_OS_RELEASE)
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("var/lib/dpkg/status", DPKG_STATUS)
        .file("var/lib/dpkg/status.d/libssl3", DISTROLESS_LIBSSL)
        .file(
            "var/lib/dpkg/status.d/libssl3.md5sums", "d41d8cd98f00b204e9800998ecf8427e  usr/lib/libssl.so.3\n"
        )
        .file(f"{SITE}/PyYAML-6.0.1.dist-info/METADATA", PYTHON_METADATA)
        .file(
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info",
            "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
        )
        .file("app/node_modules/@babel/core/package.json", NPM_PACKAGE)
        .file(
            "app/node_modules/@babel/core/test/fixtures/package.json",
            '{"name": "fixture", "version": "0.0.0"}',
        )
        .file("srv/shop.war", war)
        .file("usr/local/bin/server", SERVER, mode=0o755)
        .file("usr/local/bin/server-copy", SERVER, mode=0o644)  # not executable: not read
        .file("usr/bin/true", b"\x7fELF" + bytes(200), mode=0o755)  # executable, not Go
        .file("usr/bin/script", b"#!/bin/sh\necho " + b"x" * 100, mode=0o755)
        .analyse()
    )
    assert analysis.problems == ()
    assert (analysis.os_path, analysis.os and analysis.os.ecosystem) == ("usr/lib/os-release", "Debian:12")
    found = {
        path: sorted(f"{p.ecosystem} {p.name} {p.version}" for p in packages)
        for path, packages in analysis.files.items()
    }
    assert found == {
        "usr/lib/os-release": [],
        "etc/os-release": [],
        "var/lib/dpkg/status": [
            "Debian:12 base-files 12.4+deb12u5",
            "Debian:12 libc6 2.36-9+deb12u4",
            "Debian:12 libgnutls30 3.7.9-2+deb12u2+b1",
            "Debian:12 libssl3 3.0.11-1~deb12u2",
            "Debian:12 libsystemd0 252.22-1~deb12u1",
        ],
        "var/lib/dpkg/status.d/libssl3": ["Debian:12 libssl3 3.0.15-1~deb12u1"],
        f"{SITE}/PyYAML-6.0.1.dist-info/METADATA": ["PyPI PyYAML 6.0.1"],
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info": ["PyPI six 1.16.0"],
        "app/node_modules/@babel/core/package.json": ["npm @babel/core 7.24.4"],
        "srv/shop.war": ["Maven com.example:shop 1.4.0", "Maven org.apache.logging.log4j:log4j-core 2.17.1"],
        "usr/local/bin/server": [
            "Go example.com/server v1.2.0",
            "Go golang.org/x/net v0.17.0",
            "Go stdlib 1.21.3",
        ],
    }


def test_os_release_after_the_package_database_in_the_stream() -> None:
    analysis = (
        Layer()
        .file("var/lib/rpm/rpmdb.sqlite", rpmdb_sqlite([rpm_header("bash", "5.1.8", "6.el9")]))
        .file("etc/os-release", ROCKY_OS_RELEASE)
        .analyse()
    )
    (bash,) = analysis.files["var/lib/rpm/rpmdb.sqlite"]
    assert bash.ecosystem == "Rocky Linux:9"
    assert bash.purl == "pkg:rpm/rocky/bash@5.1.8-6.el9?arch=x86_64&distro=rocky-9.3"


@pytest.mark.parametrize("inline", [True, False], ids=["1.18+", "pre-1.18"])
def test_go_binary_larger_than_the_archive_limit(inline: bool) -> None:
    """Scanned streaming for the build info instead of held in memory. The 1.18+ format needs
    nothing else; the pre-1.18 one points into the rest of the file, and is reported."""
    binary = go_binary(
        "go1.21.3",
        modinfo("example.com/big", ("example.com/big", "v2.0.0")),
        inline=inline,
        padding=3 * _MIB + 5,
    )
    analysis = Layer().file("usr/local/bin/big", binary, mode=0o755).analyse("none", max_archive_bytes=_MIB)
    packages = [(p.name, p.version) for p in analysis.files.get("usr/local/bin/big", ())]
    if inline:
        assert packages == [("stdlib", "1.21.3"), ("example.com/big", "v2.0.0")]
        assert analysis.problems == ()
    else:
        assert packages == []
        (problem,) = analysis.problems
        assert problem.startswith("usr/local/bin/big: Go build info present but unreadable")


def test_unreadable_and_unsupported_databases_are_reported() -> None:
    analysis = (
        Layer()
        .file("var/lib/rpm/Packages", b"\x00" * 4096)
        .file("usr/lib/sysimage/rpm/Packages.db", b"\x00" * 4096)
        .file("var/lib/rpm/rpmdb.sqlite", b"not sqlite" * 100)
        .file("opt/app.jar", b"PK not really")
        .file("app/node_modules/x/package.json", b"{")
        .analyse()
    )
    assert analysis.problems == (
        "var/lib/rpm/Packages: unreadable rpm Berkeley DB: no hash database magic",
        "usr/lib/sysimage/rpm/Packages.db: NDB rpmdb (SUSE) not supported",
        "var/lib/rpm/rpmdb.sqlite: unreadable rpm SQLite database: file is not a database",
        "opt/app.jar: not a zip archive, or more than 200000 entries",
        "app/node_modules/x/package.json: not valid JSON",
    )
    assert all(packages == () for packages in analysis.files.values())


def test_java_archives_have_their_own_limit() -> None:
    big = jar([("com.example", "big", "1")], extra={"blob.bin": Path(__file__).read_bytes() * 50})
    analysis = (
        Layer()
        .file("opt/big.jar", big)
        .file("opt/small.jar", jar([("com.example", "small", "1")]))
        .analyse(max_archive_bytes=len(big) - 1)
    )
    assert [p.name for p in analysis.files["opt/small.jar"]] == ["com.example:small"]
    assert analysis.files["opt/big.jar"] == ()
    assert analysis.problems == (
        f"opt/big.jar: {len(big)} bytes, over the {len(big) - 1}-byte limit for one file; skipped",
    )
