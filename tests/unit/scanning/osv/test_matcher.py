"""Matching whole inventories: one lookup, findings per (vulnerability, package, version)."""

from __future__ import annotations

from collections.abc import Iterable

from proxy.scanning.model import Package, Severity
from proxy.scanning.osv.matcher import match_inventory, match_records
from proxy.scanning.osv.names import ecosystem_applies, normalize_name
from proxy.scanning.osv.record import OsvRecord
from tests.support.osv import (
    alpine_openssl_cve_2023_5678,
    deb_package,
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    parsed,
    pypi_package,
    requests_proxy_auth_leak,
    withdrawn_requests_duplicate,
)

RECORDS = [
    parsed(record())
    for record in (
        debian_openssl_cve_2023_5678,
        alpine_openssl_cve_2023_5678,
        requests_proxy_auth_leak,
        withdrawn_requests_duplicate,
        ecdsa_minerva_last_affected,
    )
]
BOOKWORM_IMAGE = [
    deb_package("libssl3", "3.0.11-1~deb12u2", source="openssl", layer="sha256:aa"),
    deb_package("openssl", "3.0.11-1~deb12u2", layer="sha256:aa"),
    deb_package("bash", "5.2.15-2+b2"),
    pypi_package("requests", "2.28.1", layer="sha256:bb"),
    pypi_package("requests", "2.28.1", path="opt/venv/lib/python3.11/site-packages"),
    pypi_package("ecdsa", "0.18.0"),
]


class ListSource:
    """An in-memory record source answering records_for as the database does."""

    def __init__(self, records: Iterable[OsvRecord]) -> None:
        self.records = list(records)
        self.calls: list[list[tuple[str, str]]] = []

    async def records_for(self, pairs: Iterable[tuple[str, str]]) -> list[OsvRecord]:
        wanted = [(eco, normalize_name(eco, name)) for eco, name in pairs]
        self.calls.append(list(pairs))
        return [
            record
            for record in self.records
            if record.withdrawn is None
            and any(
                a.ecosystem
                and a.name
                and ecosystem_applies(a.ecosystem, eco)
                and normalize_name(a.ecosystem, a.name) == name
                for a in record.affected
                for eco, name in wanted
            )
        ]


def test_an_image_gets_one_finding_per_vulnerability_package_and_version() -> None:
    findings = match_records(BOOKWORM_IMAGE, RECORDS)
    assert [(f.vulnerability, f.package, f.installed_version) for f in findings] == [
        ("GHSA-wj6h-64fc-37mp", "ecdsa", "0.18.0"),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1"),
        ("DEBIAN-CVE-2023-5678", "libssl3", "3.0.11-1~deb12u2"),
        ("DEBIAN-CVE-2023-5678", "openssl", "3.0.11-1~deb12u2"),
    ]


def test_findings_carry_what_a_report_needs() -> None:
    by_package = {f.package: f for f in match_records(BOOKWORM_IMAGE, RECORDS)}
    libssl = by_package["libssl3"]
    assert libssl.aliases == ("CVE-2023-5678",)
    assert libssl.ecosystem == "Debian:12"
    assert libssl.fixed_version == "3.0.13-1~deb12u1" and libssl.fixable
    assert libssl.severity is Severity.UNKNOWN and libssl.cvss_score is None
    assert libssl.summary.startswith("Issue summary: Generating excessively long")
    assert (libssl.layer, libssl.path) == ("sha256:aa", "var/lib/dpkg/status")
    requests = by_package["requests"]
    assert (requests.severity, requests.cvss_score) == (Severity.MEDIUM, 6.1)
    assert requests.aliases == ("CVE-2023-32681",)  # "related" ids are not aliases
    assert requests.layer == "sha256:bb"  # the first place it was found
    assert by_package["ecdsa"].fixed_version is None


def test_findings_sort_by_severity_then_id() -> None:
    findings = match_records(BOOKWORM_IMAGE, RECORDS)
    keys = [(-f.severity, f.vulnerability) for f in findings]
    assert keys == sorted(keys)


def test_fixed_and_foreign_packages_have_no_findings() -> None:
    patched = [
        deb_package("libssl3", "3.0.13-1~deb12u1", source="openssl"),
        pypi_package("requests", "2.31.0"),
    ]
    assert match_records(patched, RECORDS) == []
    # The Alpine record names openssl too, at a version it would call affected.
    bookworm_openssl = [deb_package("openssl", "3.0.9-1")]
    assert [f.vulnerability for f in match_records(bookworm_openssl, RECORDS)] == ["DEBIAN-CVE-2023-5678"]


async def test_match_inventory_asks_once_for_every_advisory_name() -> None:
    source = ListSource(RECORDS)
    findings = await match_inventory(BOOKWORM_IMAGE, source)
    assert len(findings) == 4
    assert source.calls == [
        [("Debian:12", "bash"), ("Debian:12", "openssl"), ("PyPI", "ecdsa"), ("PyPI", "requests")]
    ]


async def test_an_empty_inventory_asks_nothing() -> None:
    source = ListSource(RECORDS)
    assert await match_inventory([], source) == []
    assert source.calls == []


def test_a_package_listed_by_two_layers_is_one_finding() -> None:
    twice = [
        Package("requests", "2.28.1", "PyPI", layer="sha256:1"),
        Package("requests", "2.28.1", "PyPI", layer="sha256:2"),
    ]
    assert len(match_records(twice, RECORDS)) == 1
