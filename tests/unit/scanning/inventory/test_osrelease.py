"""os-release parsing and OSV ecosystem names."""

from __future__ import annotations

import pytest

from proxy.scanning.inventory import osv_ecosystem, parse_os_release
from proxy.scanning.model import OperatingSystem
from tests.unit.scanning.inventory.samples import (
    ALPINE_OS_RELEASE,
    DEBIAN_OS_RELEASE,
    ROCKY_OS_RELEASE,
    UBUNTU_OS_RELEASE,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DEBIAN_OS_RELEASE, OperatingSystem("debian", "12", "Debian GNU/Linux 12 (bookworm)", "Debian:12")),
        (UBUNTU_OS_RELEASE, OperatingSystem("ubuntu", "22.04", "Ubuntu 22.04.4 LTS", "Ubuntu:22.04:LTS")),
        (ALPINE_OS_RELEASE, OperatingSystem("alpine", "3.20.3", "Alpine Linux v3.20", "Alpine:v3.20")),
        (ROCKY_OS_RELEASE, OperatingSystem("rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)", "Rocky Linux:9")),
    ],
)
def test_real_files(text: str, expected: OperatingSystem) -> None:
    assert parse_os_release(text.encode()) == expected


@pytest.mark.parametrize(
    ("os_id", "version_id", "version", "ecosystem"),
    [
        ("ubuntu", "23.10", "23.10 (Mantic Minotaur)", "Ubuntu:23.10"),
        ("ubuntu", "24.04", "", "Ubuntu:24.04:LTS"),  # no VERSION: April of an even year is LTS
        ("rhel", "9.4", "", "Red Hat"),
        ("almalinux", "8.10", "", "AlmaLinux:8"),
        ("wolfi", "20230201", "", "Wolfi"),
        ("debian", "", "", None),  # testing and sid have no VERSION_ID
        ("centos", "7", "", None),  # no OSV ecosystem
        ("fedora", "40", "", None),
    ],
)
def test_osv_ecosystems(os_id: str, version_id: str, version: str, ecosystem: str | None) -> None:
    assert osv_ecosystem(os_id, version_id, version) == ecosystem


def test_quoting_comments_and_defaults() -> None:
    text = b'# comment\nID=\'debian\'\nPRETTY_NAME="A \\"quoted\\" name"\nnot a line\nVERSION_ID=11\n'
    assert parse_os_release(text) == OperatingSystem("debian", "11", 'A "quoted" name', "Debian:11")
    # ID defaults to "linux"; a file with neither ID nor VERSION_ID describes nothing.
    assert parse_os_release(b"VERSION_ID=1\n") == OperatingSystem("linux", "1", "", None)
    assert parse_os_release(b"NAME=x\n") is None
    assert parse_os_release(b"\xff\xfe\x00garbage") is None
