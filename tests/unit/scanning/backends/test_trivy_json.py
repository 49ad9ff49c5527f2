"""Reading Trivy's JSON report (vulnerabilities mode) into findings and an inventory.

``fixtures/trivy-debian.report.json`` follows Trivy's documented report
(https://trivy.dev/latest/docs/configuration/reporting/#json) and its golden files
(``integration/testdata/debian-buster.json.golden`` in aquasecurity/trivy): its
``Metadata`` and ``Packages`` are what Trivy 0.76.0 printed here with ``--list-all-pkgs``;
the ``Vulnerabilities`` entries are written in the golden files' shape, since no Trivy DB
can be downloaded on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.scanning.backends._document import Malformed
from proxy.scanning.backends.trivy_json import parse_json_report
from proxy.scanning.model import Finding, OperatingSystem, Package, Severity

FIXTURE = Path(__file__).parent / "fixtures" / "trivy-debian.report.json"
OS_LAYER = "sha256:77fcc04b4ac09ab05e55bbf6c4bb1ad74051f916708b3b6afe346c4cbe448996"
APP_LAYER = "sha256:a1d0c75327776413fa0db9ed3adcdbadedc95a662eb1d360dad82bb913f8a1d1"
SITE = "usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA"


def findings() -> dict[str, Finding]:
    report = parse_json_report(FIXTURE.read_bytes(), with_inventory=False)
    return {f.vulnerability: f for f in report.findings}


def report_with(vulnerability: dict[str, Any]) -> bytes:
    result = {"Class": "lang-pkgs", "Type": "pip", "Vulnerabilities": [vulnerability]}
    return json.dumps({"SchemaVersion": 2, "Results": [result]}).encode()


def test_reads_an_os_finding() -> None:
    assert findings()["CVE-2023-5678"] == Finding(
        vulnerability="CVE-2023-5678",
        aliases=("DSA-5585-1",),
        package="libssl3",
        installed_version="3.0.11-1~deb12u2",
        ecosystem="Debian:12",
        fixed_version="3.0.13-1~deb12u1",
        severity=Severity.MEDIUM,
        # No "debian" CVSS entry: NVD's score comes before Red Hat's.
        cvss_score=7.5,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        summary="openssl: Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys or parameters may be very slow",
        layer=OS_LAYER,
    )


def test_an_unfixed_finding_has_no_fixed_version() -> None:
    finding = findings()["CVE-2023-45853"]

    assert finding.fixed_version is None
    assert not finding.fixable
    assert finding.installed_version == "1:1.2.13.dfsg-1"
    assert finding.severity is Severity.CRITICAL


def test_reads_a_language_finding_with_its_path_and_preferred_source() -> None:
    finding = findings()["CVE-2024-35195"]

    assert (finding.package, finding.ecosystem, finding.path, finding.layer) == (
        "requests",
        "PyPI",
        SITE,
        APP_LAYER,
    )
    assert (finding.cvss_score, finding.cvss_vector) == (5.6, "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N")


def test_without_a_purl_the_result_type_names_the_ecosystem() -> None:
    finding = findings()["GHSA-m425-mq94-257g"]

    assert finding.ecosystem == "Go"
    assert finding.fixed_version == "1.56.3, 1.57.1, 1.58.3"  # one per branch, as Trivy wrote it
    assert (finding.cvss_score, finding.cvss_vector) == (
        8.7,
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
    )


def test_secrets_and_misconfigurations_are_not_findings() -> None:
    assert len(findings()) == 4


def test_inventory_from_list_all_packages() -> None:
    inventory = parse_json_report(FIXTURE.read_bytes(), with_inventory=True).inventory

    assert inventory is not None
    assert inventory.os == OperatingSystem("debian", "12.4", ecosystem="Debian:12")
    assert inventory.packages == (
        Package(
            "libssl3",
            "3.0.11-1~deb12u2",
            "Debian:12",
            source_name="openssl",
            layer=OS_LAYER,
            purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.4",
        ),
        Package(
            "zlib1g",
            "1:1.2.13.dfsg-1",
            "Debian:12",
            source_name="zlib",
            layer=OS_LAYER,
            purl="pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.4&epoch=1",
        ),
        Package("requests", "2.31.0", "PyPI", path=SITE, layer=APP_LAYER, purl="pkg:pypi/requests@2.31.0"),
    )


def test_no_inventory_unless_asked() -> None:
    assert parse_json_report(FIXTURE.read_bytes(), with_inventory=False).inventory is None


def test_a_clean_image_has_no_findings() -> None:
    report = parse_json_report(b'{"SchemaVersion": 2, "Results": null}', with_inventory=True)

    assert report.findings == ()
    assert report.inventory is not None and report.inventory.packages == ()


def test_unknown_severity_stays_unknown() -> None:
    raw = report_with({"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "WHATEVER"})

    (finding,) = parse_json_report(raw, with_inventory=False).findings
    assert finding.severity is Severity.UNKNOWN
    assert finding.cvss_score is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not JSON"),
        (b'{"SchemaVersion": 1, "Results": []}', "SchemaVersion"),
        (b'{"SchemaVersion": 2, "Results": {}}', "Results is not an array"),
        (b'{"SchemaVersion": 2, "Metadata": {"OS": "debian"}}', "Metadata.OS"),
        (report_with({"PkgName": "a"}), "no VulnerabilityID"),
        (report_with({"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": 4}), "Severity"),
        (
            report_with({"VulnerabilityID": "CVE-1", "PkgName": "a", "CVSS": {"nvd": {"V3Score": "9.8"}}}),
            "V3Score is not a number",
        ),
        (report_with({"VulnerabilityID": "CVE-1", "PkgName": "a", "VendorIDs": "DSA-1"}), "not an array"),
        (
            report_with({"VulnerabilityID": "CVE-1", "PkgName": "a", "PkgIdentifier": {"PURL": "nope"}}),
            "not a purl",
        ),
    ],
)
def test_garbled_output_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse_json_report(raw, with_inventory=True)

    assert message in str(caught.value)


def test_a_non_integer_epoch_is_malformed() -> None:
    result = {"Class": "os-pkgs", "Type": "debian", "Packages": [{"Name": "a", "Version": "1", "Epoch": "1"}]}
    raw = json.dumps({"SchemaVersion": 2, "Results": [result]}).encode()

    with pytest.raises(Malformed, match="epoch"):
        parse_json_report(raw, with_inventory=True)
