"""Package URLs as scanners write them, and the OSV ecosystems they map to.

Parse cases follow the purl-spec test suite (https://github.com/package-url/purl-spec,
``test-suite-data.json``); ecosystem names follow the OSV schema's ecosystem list.
"""

from __future__ import annotations

import pytest

from proxy.scanning.backends.purl import (
    PackageURL,
    distro_ecosystem,
    ecosystem_of,
    os_release_id,
    osv_package_name,
)


def test_parses_every_part() -> None:
    purl = PackageURL.parse("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie")

    assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", "curl", "7.50.3-1")
    assert purl.qualifier("arch") == "i386"
    assert purl.qualifier("distro") == "jessie"
    assert purl.qualifier("epoch") is None


def test_decodes_percent_escapes_and_keeps_subpaths() -> None:
    npm = PackageURL.parse("pkg:npm/%40angular/animation@12.3.1")
    golang = PackageURL.parse("pkg:golang/google.golang.org/genproto#googleapis/api/annotations")

    assert (npm.namespace, npm.name) == ("@angular", "animation")
    assert (golang.namespace, golang.name, golang.version) == ("google.golang.org", "genproto", "")
    assert golang.subpath == "googleapis/api/annotations"


def test_type_is_case_insensitive_and_empty_qualifiers_are_dropped() -> None:
    purl = PackageURL.parse("pkg:PyPI/Django@1.11.1?arch=&upstream=")

    assert purl.type == "pypi"
    assert purl.qualifiers == ()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "requests",
        "pkg:",
        "pkg:pypi",
        "pkg:pypi/",
        "http://pypi/requests@1",
        "pkg:1x/name@1",
        "pkg:" + "a" * 5000,
    ],
)
def test_rejects_what_is_not_a_purl(text: str) -> None:
    with pytest.raises(ValueError):
        PackageURL.parse(text)


@pytest.mark.parametrize(
    ("purl", "ecosystem"),
    [
        ("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.4", "Debian:12"),
        ("pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15?distro=ubuntu-22.04", "Ubuntu:22.04:LTS"),
        ("pkg:deb/ubuntu/openssl@3.0.10-1ubuntu2?distro=ubuntu-23.10", "Ubuntu:23.10"),
        ("pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4", "Alpine:v3.18"),  # Trivy
        ("pkg:apk/alpine/musl@1.2.5-r0?distro=alpine-3.20.1", "Alpine:v3.20"),  # Syft
        ("pkg:rpm/rocky/openssl@3.0.7-25.el9_3?distro=rocky-9.3", "Rocky Linux:9"),
        ("pkg:rpm/redhat/openssl@3.0.7-25.el9_3?distro=redhat-9.3", "Red Hat"),
        ("pkg:deb/debian/openssl@3.0.11-1", "Debian"),  # no release known
        ("pkg:rpm/amazon/openssl@1.0.2k-24.amzn2?distro=amazon-2", None),
        ("pkg:pypi/requests@2.31.0", "PyPI"),
        ("pkg:npm/%40babel/traverse@7.22.5", "npm"),
        ("pkg:golang/github.com/opencontainers/runc@v1.1.12", "Go"),
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "Maven"),
        ("pkg:cargo/smallvec@1.10.0", "crates.io"),
        ("pkg:conda/openssl@3.1.1", None),
    ],
)
def test_maps_purls_to_osv_ecosystems(purl: str, ecosystem: str | None) -> None:
    assert ecosystem_of(PackageURL.parse(purl)) == ecosystem


def test_distro_ecosystem_from_os_release_values() -> None:
    assert distro_ecosystem("debian", "12") == "Debian:12"
    assert distro_ecosystem("Alpine", "3.19.0") == "Alpine:v3.19"
    assert distro_ecosystem("ubuntu", "24.04") == "Ubuntu:24.04:LTS"
    assert distro_ecosystem("almalinux", "9.3") == "AlmaLinux:9"
    assert distro_ecosystem("none", "") is None


@pytest.mark.parametrize(
    ("purl", "name"),
    [
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "org.apache.logging.log4j:log4j-core"),
        ("pkg:npm/%40babel/traverse@7.22.5", "@babel/traverse"),
        ("pkg:golang/github.com/opencontainers/runc@v1.1.12", "github.com/opencontainers/runc"),
        ("pkg:composer/laravel/framework@10.0.0", "laravel/framework"),
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2", "libssl3"),
        ("pkg:pypi/requests@2.31.0", "requests"),
    ],
)
def test_names_packages_as_osv_does(purl: str, name: str) -> None:
    assert osv_package_name(PackageURL.parse(purl)) == name


@pytest.mark.parametrize(
    ("family", "os_id"),
    [("debian", "debian"), ("redhat", "rhel"), ("alma", "almalinux"), ("Amazon", "amzn"), ("wolfi", "wolfi")],
)
def test_trivy_os_families_become_os_release_ids(family: str, os_id: str) -> None:
    assert os_release_id(family) == os_id
