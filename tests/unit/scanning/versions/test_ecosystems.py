"""The public surface: OSV ecosystem names to algorithms, and how refusals look."""

from __future__ import annotations

import pytest

from proxy.scanning.versions import (
    MAX_VERSION_LENGTH,
    InvalidVersion,
    UnsupportedEcosystem,
    apk,
    comparator,
    compare,
    dpkg,
    ecosystems,
    golang,
    maven,
    pep440,
    rpm,
    semver,
)


@pytest.mark.parametrize(
    ("ecosystem", "algorithm"),
    [
        ("Debian", dpkg.compare),
        ("Debian:12", dpkg.compare),
        ("Ubuntu", dpkg.compare),
        ("Ubuntu:22.04:LTS", dpkg.compare),
        ("Ubuntu:Pro:18.04:LTS", dpkg.compare),
        ("Alpine", apk.compare),
        ("Alpine:v3.20", apk.compare),
        ("Wolfi", apk.compare),
        ("Red Hat", rpm.compare),
        ("Red Hat:enterprise_linux:9::appstream", rpm.compare),
        ("Rocky Linux:9", rpm.compare),
        ("AlmaLinux", rpm.compare),
        ("AlmaLinux:8", rpm.compare),
        ("PyPI", pep440.compare),
        ("npm", semver.compare_npm),
        ("crates.io", semver.compare),
        ("Go", golang.compare),
        ("Maven", maven.compare),
        ("pypi", pep440.compare),  # case does not matter
        (" Debian :12", dpkg.compare),
    ],
)
def test_ecosystem_mapping(ecosystem: str, algorithm: object) -> None:
    assert comparator(ecosystem) is algorithm


@pytest.mark.parametrize(
    ("ecosystem", "a", "b", "expected"),
    [
        ("Debian:12", "1:2.0-1", "2.0-1", 1),
        ("Ubuntu:22.04:LTS", "2.0~rc1", "2.0", -1),
        ("Alpine:v3.20", "1.2.3-r1", "1.2.3_rc1-r9", 1),
        ("Red Hat", "0:1.0-1.el9", "1.0-1.el9", 0),
        ("Rocky Linux:9", "1.0^git1", "1.0.1", -1),
        ("AlmaLinux", "1.0~rc1", "1.0", -1),
        ("PyPI", "1.0.post1", "1.0", 1),
        ("npm", "1.0.0-rc.1", "v1.0.0", -1),
        ("Go", "v1.2.4-0.20191109021931-daa7c04131f5", "1.2.3", 1),
        ("Maven", "1.0-SNAPSHOT", "1.0", -1),
        ("crates.io", "1.0.0-alpha.1", "1.0.0-alpha.beta", -1),
    ],
)
def test_compare_dispatches(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare(ecosystem, a, b) == expected


@pytest.mark.parametrize("ecosystem", ["", "Debain", "NuGet", "RubyGems", "Packagist", ":12"])
def test_unknown_ecosystem(ecosystem: str) -> None:
    with pytest.raises(UnsupportedEcosystem) as caught:
        comparator(ecosystem)
    assert caught.value.ecosystem == ecosystem
    assert isinstance(caught.value, ValueError)


def test_known_ecosystems_are_listed() -> None:
    assert {
        "debian",
        "ubuntu",
        "alpine",
        "red hat",
        "rocky linux",
        "almalinux",
        "pypi",
        "npm",
        "go",
        "maven",
        "crates.io",
    } <= ecosystems()


@pytest.mark.parametrize(
    ("ecosystem", "version"),
    [
        ("Debian", "1:"),
        ("Alpine", "1.0-2"),
        ("Red Hat", "1.0-"),
        ("PyPI", "french toast"),
        ("npm", "1.2"),
        ("crates.io", "v1.2.3"),
        ("Go", "v1.2-pre"),
        ("Maven", ""),
    ],
)
def test_invalid_version_names_scheme_and_input(ecosystem: str, version: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        compare(ecosystem, version, version)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.version == version
    assert error.reason
    assert repr(version) in str(error)


@pytest.mark.parametrize(
    "ecosystem", ["Debian", "Alpine", "Red Hat", "PyPI", "npm", "crates.io", "Go", "Maven"]
)
def test_length_is_bounded(ecosystem: str) -> None:
    at_limit = "1" * MAX_VERSION_LENGTH
    if ecosystem in ("npm", "crates.io"):
        at_limit = "1." + "1" * (MAX_VERSION_LENGTH - 4) + ".1"
    assert len(at_limit) == MAX_VERSION_LENGTH
    assert compare(ecosystem, at_limit, at_limit) == 0
    with pytest.raises(InvalidVersion, match="longer than"):
        compare(ecosystem, at_limit + "1", at_limit)


def test_long_input_is_not_echoed_whole() -> None:
    with pytest.raises(InvalidVersion) as caught:
        compare("Debian", "9" * 10_000, "1")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("ecosystem", ["Debian", "PyPI", "Maven"])
def test_non_strings_are_refused(ecosystem: str) -> None:
    with pytest.raises(InvalidVersion, match="expected a string"):
        compare(ecosystem, 1, "1")  # type: ignore[arg-type]
