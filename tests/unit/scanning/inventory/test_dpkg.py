"""dpkg: the status file, distroless's status.d, and the host's real database."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from proxy.scanning.inventory import ExtractionError, build_inventory, extract_dpkg, parse_os_release
from tests.support.layers import Layer
from tests.unit.scanning.inventory.samples import (
    DEBIAN_OS_RELEASE,
    DISTROLESS_LIBSSL,
    DPKG_STATUS,
    UBUNTU_OS_RELEASE,
)

DEBIAN = parse_os_release(DEBIAN_OS_RELEASE.encode())
STATUS = "var/lib/dpkg/status"


def test_lists_installed_packages_only() -> None:
    packages = extract_dpkg(STATUS, DPKG_STATUS.encode(), DEBIAN)
    # config-files and half-installed packages are not on disk; a held package is.
    assert [(p.name, p.version) for p in packages] == [
        ("base-files", "12.4+deb12u5"),
        ("libc6", "2.36-9+deb12u4"),
        ("libssl3", "3.0.11-1~deb12u2"),
        ("libsystemd0", "252.22-1~deb12u1"),
        ("libgnutls30", "3.7.9-2+deb12u2+b1"),
    ]
    assert {p.ecosystem for p in packages} == {"Debian:12"}
    assert {p.path for p in packages} == {STATUS}


def test_source_package_and_version() -> None:
    packages = {p.name: p for p in extract_dpkg(STATUS, DPKG_STATUS.encode(), DEBIAN)}
    assert (packages["base-files"].source_name, packages["base-files"].source_version) == (None, None)
    assert packages["base-files"].advisory_name == "base-files"
    assert (packages["libc6"].source_name, packages["libc6"].source_version) == ("glibc", None)
    # A Source version equal to the binary's adds nothing; a different one (binNMU) is kept.
    assert packages["libsystemd0"].source_version is None
    assert (packages["libgnutls30"].advisory_name, packages["libgnutls30"].source_version) == (
        "gnutls28",
        "3.7.9-2+deb12u2",
    )


def test_purl_names_the_distribution_release_and_architecture() -> None:
    libc = extract_dpkg(STATUS, DPKG_STATUS.encode(), DEBIAN)[1]
    assert libc.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
    ubuntu = extract_dpkg(STATUS, DPKG_STATUS.encode(), parse_os_release(UBUNTU_OS_RELEASE.encode()))[1]
    assert ubuntu.ecosystem == "Ubuntu:22.04:LTS"
    assert ubuntu.purl == "pkg:deb/ubuntu/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=ubuntu-22.04"


def test_without_os_release_the_family_is_used() -> None:
    libc = extract_dpkg(STATUS, DPKG_STATUS.encode(), None)[1]
    assert libc.ecosystem == "Debian"
    assert libc.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"


def test_distroless_status_d_files_have_no_status_field() -> None:
    (package,) = extract_dpkg("var/lib/dpkg/status.d/libssl3", DISTROLESS_LIBSSL.encode(), DEBIAN)
    assert (package.name, package.version, package.source_name) == ("libssl3", "3.0.15-1~deb12u1", "openssl")
    # In the main status file a paragraph without Status is not an installed package.
    assert extract_dpkg(STATUS, DISTROLESS_LIBSSL.encode(), DEBIAN) == ()


def test_broken_paragraph_is_reported_and_the_rest_kept() -> None:
    text = "Package: broken\nStatus: install ok installed\n\n" + DPKG_STATUS
    with pytest.raises(ExtractionError) as caught:
        extract_dpkg(STATUS, text.encode(), DEBIAN)
    assert caught.value.problems == ("paragraph 1 of an installed package has no Package or Version",)
    assert len(caught.value.packages) == 5


def test_crlf_and_invalid_utf8_are_tolerated() -> None:
    text = DPKG_STATUS.replace("\n", "\r\n").encode().replace(b"Santiago", b"Sant\xffiago")
    assert len(extract_dpkg(STATUS, text, DEBIAN)) == 5


def _dpkg_query(fields: str) -> list[list[str]]:
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\\t" + fields + "\\n"],
        check=True,
        capture_output=True,
        text=True,
    )
    # db:Status-Abbrev is three characters: wanted, current state, error flag. The current
    # state "i" is installed, whatever is wanted ("ii", "hi" held, "ri" marked for removal).
    return [line.split("\t")[1:] for line in query.stdout.splitlines() if line[1] == "i"]


@pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not Path("/var/lib/dpkg/status").is_file(),
    reason="needs a Debian host with dpkg",
)
def test_the_hosts_real_database_matches_dpkg_query() -> None:
    os_release = Path("/etc/os-release").read_bytes()  # through Debian's symlink to usr/lib
    layer = (
        Layer()
        .dir("etc")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("usr/lib/os-release", os_release)
        .file(STATUS, Path("/var/lib/dpkg/status").read_bytes())
    )
    inventory = build_inventory([layer.analyse()])

    host = parse_os_release(os_release)
    assert host is not None and inventory.os == host
    assert inventory.problems == ()
    expected = sorted((name, version) for name, version in _dpkg_query("${Package}\\t${Version}"))
    ii = [
        line
        for line in subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\\n"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if line.startswith("ii")
    ]
    assert len(expected) >= len(ii) > 50
    assert sorted((p.name, p.version) for p in inventory.packages) == expected
    assert {p.ecosystem for p in inventory.packages} == {f"Debian:{host.version_id}"}
    # dpkg's own idea of each package's source package and version, and architecture.
    sources = sorted(
        tuple(row)
        for row in _dpkg_query("${Package}\\t${source:Package}\\t${source:Version}\\t${Architecture}")
    )
    mine = sorted(
        (
            p.name,
            p.advisory_name,
            p.source_version or p.version,
            (p.purl or "").split("arch=")[1].split("&")[0],
        )
        for p in inventory.packages
    )
    assert mine == sources
