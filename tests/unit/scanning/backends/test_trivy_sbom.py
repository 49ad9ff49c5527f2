"""Reading Trivy's CycloneDX SBOM into an Inventory.

``fixtures/trivy-debian.cdx.json`` is modelled on what ``trivy image --format cyclonedx``
0.76.0 printed for the integration test's image (captured on this machine), extended with the
component shapes Trivy documents for language packages
(https://trivy.dev/latest/docs/supply-chain/sbom/#cyclonedx): a nested npm application,
a Maven jar, a Go binary, and components it cannot name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.scanning.backends._document import Malformed
from proxy.scanning.backends.trivy_sbom import parse_cyclonedx
from proxy.scanning.model import OperatingSystem, Package

FIXTURE = Path(__file__).parent / "fixtures" / "trivy-debian.cdx.json"
OS_LAYER = "sha256:77fcc04b4ac09ab05e55bbf6c4bb1ad74051f916708b3b6afe346c4cbe448996"
APP_LAYER = "sha256:a1d0c75327776413fa0db9ed3adcdbadedc95a662eb1d360dad82bb913f8a1d1"


def bom(*components: dict[str, Any]) -> bytes:
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": list(components)}
    ).encode()


def test_reads_the_operating_system() -> None:
    inventory = parse_cyclonedx(FIXTURE.read_bytes())

    assert inventory.os == OperatingSystem("debian", "12.4", ecosystem="Debian:12")


def test_reads_os_packages_with_epoch_and_source() -> None:
    packages = {p.name: p for p in parse_cyclonedx(FIXTURE.read_bytes()).packages}

    assert packages["libssl3"] == Package(
        "libssl3",
        "3.0.11-1~deb12u2",
        "Debian:12",
        source_name="openssl",
        layer=OS_LAYER,
        purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.4",
    )
    # The epoch lives in the component version (and the purl's epoch qualifier).
    assert packages["zlib1g"].version == "1:1.2.13.dfsg-1"
    assert packages["zlib1g"].source_name == "zlib"
    assert packages["zlib1g"].source_version is None  # the same as the binary's
    assert packages["libpcre2-8-0"].advisory_name == "pcre2"


def test_reads_language_packages_including_nested_ones() -> None:
    packages = {p.name: p for p in parse_cyclonedx(FIXTURE.read_bytes()).packages}

    assert packages["requests"] == Package(
        "requests",
        "2.31.0",
        "PyPI",
        path="usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
        layer=APP_LAYER,
        purl="pkg:pypi/requests@2.31.0",
    )
    assert packages["@babel/traverse"].ecosystem == "npm"
    assert packages["@babel/traverse"].path == "app/package-lock.json"
    assert packages["org.apache.logging.log4j:log4j-core"].ecosystem == "Maven"
    assert packages["github.com/opencontainers/runc"].version == "v1.1.12"


def test_reports_what_it_left_out() -> None:
    inventory = parse_cyclonedx(FIXTURE.read_bytes())

    assert "openssl" not in {p.name for p in inventory.packages}  # the conda package
    assert "vendored-blob" not in {p.name for p in inventory.packages}
    assert inventory.problems == (
        "1 components without a usable package URL were left out: vendored-blob",
        "1 packages of pkg:conda were left out: OSV has no ecosystem for them",
    )


def test_alpine_release_and_upstream_qualifier() -> None:
    inventory = parse_cyclonedx(
        bom(
            {"type": "operating-system", "name": "alpine", "version": "3.20.1"},
            {
                "type": "library",
                "name": "libcrypto3",
                "version": "3.3.1-r0",
                "purl": "pkg:apk/alpine/libcrypto3@3.3.1-r0?arch=x86_64&distro=3.20.1&upstream=openssl@3.3.1-r1",
            },
        )
    )

    assert inventory.os is not None and inventory.os.ecosystem == "Alpine:v3.20"
    (package,) = inventory.packages
    assert (package.ecosystem, package.source_name, package.source_version) == (
        "Alpine:v3.20",
        "openssl",
        "3.3.1-r1",
    )


def test_os_packages_without_distro_take_the_image_os() -> None:
    inventory = parse_cyclonedx(
        bom(
            {"type": "operating-system", "name": "ubuntu", "version": "22.04"},
            {
                "type": "library",
                "name": "bash",
                "version": "5.1-6ubuntu1",
                "purl": "pkg:deb/ubuntu/bash@5.1-6ubuntu1",
            },
        )
    )

    assert [p.ecosystem for p in inventory.packages] == ["Ubuntu:22.04:LTS"]


def test_trivy_os_families_are_recorded_as_os_release_ids() -> None:
    inventory = parse_cyclonedx(bom({"type": "operating-system", "name": "redhat", "version": "9.3"}))

    assert inventory.os == OperatingSystem("rhel", "9.3", ecosystem="Red Hat")


def test_no_recognised_os_leaves_os_packages_out_visibly() -> None:
    """What Trivy prints when it finds a dpkg database but no OS it knows: no purls."""
    inventory = parse_cyclonedx(
        bom(
            {"type": "operating-system", "name": "none"},
            {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2"},
        )
    )

    assert inventory.os is None
    assert inventory.packages == ()
    assert inventory.problems == ("1 components without a usable package URL were left out: openssl",)


def test_an_empty_image_is_an_empty_inventory() -> None:
    inventory = parse_cyclonedx(b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}')

    assert (inventory.os, inventory.packages, inventory.problems) == (None, (), ())


def test_duplicates_are_listed_once() -> None:
    component = {"type": "library", "name": "six", "version": "1.16.0", "purl": "pkg:pypi/six@1.16.0"}

    assert len(parse_cyclonedx(bom(component, component)).packages) == 1


def test_an_unparseable_purl_is_a_problem_not_a_crash() -> None:
    inventory = parse_cyclonedx(bom({"type": "library", "name": "x", "purl": "not a purl"}))

    assert inventory.packages == ()
    assert inventory.problems == ("1 components without a usable package URL were left out: not a purl",)


def nested(depth: int) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "application", "name": "leaf"}
    for _ in range(depth):
        component = {"type": "application", "name": "wrapper", "components": [component]}
    return component


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"FATAL something went wrong", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not an object"),
        (b'{"bomFormat": "SPDX"}', "bomFormat"),
        (b'{"bomFormat": "CycloneDX", "components": {}}', "components is not an array"),
        (b'{"bomFormat": "CycloneDX", "components": [42]}', "components[0] is not an object"),
        (b'{"bomFormat": "CycloneDX", "components": [{"name": 7, "purl": "pkg:pypi/a@1"}]}', "name"),
        (bom({"type": "library", "name": "a", "purl": ["pkg:pypi/a@1"]}), "purl is not a string"),
        (
            bom({"type": "library", "name": "a", "purl": "pkg:pypi/a@1", "properties": [{"name": 1}]}),
            "properties[0].name",
        ),
        (bom(nested(40)), "nests deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ],
)
def test_garbled_output_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse_cyclonedx(raw)

    assert message in str(caught.value)
