"""Whether a package is affected: OSV's range evaluation, ecosystems, names, withdrawals."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.scanning.model import Package
from proxy.scanning.osv.match import affected_by
from proxy.scanning.osv.record import OsvRecord
from proxy.scanning.versions import Comparator, UnsupportedEcosystem
from tests.support.osv import (
    affected_entry,
    alpine_openssl_cve_2023_5678,
    deb_package,
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    osv_record,
    parsed,
    pypi_package,
    requests_proxy_auth_leak,
    ubuntu_openssl_cve_2023_5678,
    withdrawn_requests_duplicate,
)


def _dotted(a: str, b: str) -> int:
    """A stand-in ordering for range logic: dotted integers; anything else is invalid."""
    ka, kb = (tuple(int(part) for part in v.split(".")) for v in (a, b))
    return (ka > kb) - (ka < kb)


def _comparators(ecosystem: str) -> Comparator:
    if ecosystem.startswith("Unsupported"):
        raise UnsupportedEcosystem(ecosystem)
    return _dotted


def _record(
    *ranges: list[dict[str, str]], versions: tuple[str, ...] = (), ecosystem: str = "Test", **fields: Any
) -> OsvRecord:
    entry: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": "pkg"}, "versions": list(versions)}
    entry["ranges"] = [{"type": "ECOSYSTEM", "events": events} for events in ranges]
    return parsed(osv_record("TEST-1", entry, **fields))


def _fixed(record: OsvRecord, version: str, ecosystem: str = "Test") -> str | None:
    """The fixed version reported for `version`; raises LookupError when not affected."""
    match = affected_by(record, Package("pkg", version, ecosystem), comparator_for=_comparators)
    if match is None:
        raise LookupError(version)
    return match.fixed_version


def _affected(record: OsvRecord, *versions: str, ecosystem: str = "Test") -> list[str]:
    package = [Package("pkg", v, ecosystem) for v in versions]
    return [p.version for p in package if affected_by(record, p, comparator_for=_comparators)]


ALL = ("0.1", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0")


def test_introduced_and_fixed_bound_a_half_open_range() -> None:
    record = _record([{"introduced": "1.0"}, {"fixed": "2.0"}])
    assert _affected(record, *ALL) == ["1.0", "1.5"]
    assert _fixed(record, "1.5") == "2.0"


def test_introduced_zero_precedes_every_version() -> None:
    assert _affected(_record([{"introduced": "0"}, {"fixed": "1.5"}]), *ALL) == ["0.1", "1.0"]
    assert _affected(_record([{"introduced": "0"}]), *ALL) == list(ALL)


def test_last_affected_is_inclusive_and_reports_no_fix() -> None:
    record = _record([{"introduced": "1.0"}, {"last_affected": "2.0"}])
    assert _affected(record, *ALL) == ["1.0", "1.5", "2.0"]
    assert _fixed(record, "2.0") is None


def test_limit_ends_a_range_and_star_is_no_limit() -> None:
    assert _affected(_record([{"introduced": "0"}, {"limit": "2.0"}]), *ALL) == ["0.1", "1.0", "1.5"]
    assert _affected(_record([{"introduced": "1.0"}, {"limit": "*"}]), *ALL) == list(ALL[1:])
    limited = _record([{"introduced": "1.0"}, {"fixed": "3.0"}, {"limit": "2.0"}])
    assert _affected(limited, *ALL) == ["1.0", "1.5"]


def test_events_are_sorted_before_they_are_applied() -> None:
    unsorted = _record([{"fixed": "3.0"}, {"introduced": "2.5"}, {"fixed": "2.0"}, {"introduced": "1.0"}])
    assert _affected(unsorted, *ALL) == ["1.0", "1.5", "2.5"]
    assert _fixed(unsorted, "1.0") == "2.0"
    assert _fixed(unsorted, "2.5") == "3.0"


def test_introduced_and_fixed_at_the_same_version_is_empty() -> None:
    assert _affected(_record([{"fixed": "2.0"}, {"introduced": "2.0"}]), *ALL) == []
    assert _affected(_record([{"last_affected": "2.0"}, {"introduced": "2.0"}]), *ALL) == ["2.0"]


def test_several_ranges_are_ored_and_the_smallest_fix_above_is_reported() -> None:
    record = _record(
        [{"introduced": "1.0"}, {"fixed": "2.0"}],
        [{"introduced": "3.0"}, {"fixed": "4.0"}],
        [{"introduced": "1.0"}, {"fixed": "2.5"}],
    )
    assert _affected(record, *ALL) == ["1.0", "1.5", "2.0", "3.0", "3.5"]
    assert _fixed(record, "1.5") == "2.0"
    assert _fixed(record, "2.0") == "2.5"
    assert _fixed(record, "3.5") == "4.0"


def test_the_versions_list_matches_exactly_alongside_the_ranges() -> None:
    record = _record([{"introduced": "1.0"}, {"fixed": "2.0"}], versions=("3.5",))
    assert _affected(record, *ALL) == ["1.0", "1.5", "3.5"]
    assert _affected(_record(versions=("1.5",)), *ALL) == ["1.5"]


def test_git_ranges_never_match() -> None:
    entry = {
        "package": {"ecosystem": "Test", "name": "pkg"},
        "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "0"}]}],
    }
    assert _affected(parsed(osv_record("TEST-1", entry)), *ALL) == []


def test_a_range_the_ordering_cannot_read_is_skipped_not_fatal() -> None:
    record = _record([{"introduced": "0"}, {"fixed": "1.0-beta"}], [{"introduced": "3.0"}, {"fixed": "4.0"}])
    assert _affected(record, *ALL) == ["3.0", "3.5"]
    assert _affected(_record([{"introduced": "1.0"}]), "1.x") == []  # an unreadable installed version
    # "Every version" needs no comparison: it holds for versions no ordering reads.
    assert _affected(_record([{"introduced": "0"}]), "1.x") == ["1.x"]


def test_an_ecosystem_without_an_ordering_matches_by_its_versions_list_only() -> None:
    record = _record([{"introduced": "0"}], versions=("1.5",), ecosystem="Unsupported")
    assert _affected(record, *ALL, ecosystem="Unsupported") == ["1.5"]


def test_withdrawn_records_never_match() -> None:
    assert affected_by(parsed(withdrawn_requests_duplicate()), pypi_package("requests", "2.28.1")) is None
    assert affected_by(parsed(requests_proxy_auth_leak()), pypi_package("requests", "2.28.1")) is not None


# -- real ecosystems, real orderings ----------------------------------------------------------
def test_debian_records_match_their_release_only() -> None:
    record = parsed(debian_openssl_cve_2023_5678())
    bookworm = affected_by(record, deb_package("openssl", "3.0.11-1~deb12u2"))
    assert bookworm is not None and bookworm.fixed_version == "3.0.13-1~deb12u1"
    bullseye = affected_by(record, deb_package("openssl", "1.1.1n-0+deb11u5", release="11"))
    assert bullseye is not None and bullseye.fixed_version == "1.1.1w-0+deb11u2"
    assert affected_by(record, deb_package("openssl", "3.0.11-1~deb12u2", release="13")) is None
    assert affected_by(record, deb_package("openssl", "3.0.13-1~deb12u1")) is None
    assert affected_by(record, deb_package("openssl", "3.0.15-1~deb12u1")) is None


def test_a_record_without_a_release_covers_every_release() -> None:
    record = parsed(
        osv_record(
            "DSA-9999-1",
            affected_entry("Debian", "openssl", {"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}),
        )
    )
    assert affected_by(record, deb_package("openssl", "3.0.9-1")) is not None
    assert affected_by(record, deb_package("openssl", "3.0.9-1", release="13")) is not None


def test_os_packages_match_by_source_package_and_source_version() -> None:
    record = parsed(debian_openssl_cve_2023_5678())
    libssl = deb_package("libssl3", "3.0.11-1~deb12u2", source="openssl")
    assert affected_by(record, libssl) is not None
    assert affected_by(record, deb_package("libssl3", "3.0.11-1~deb12u2")) is None  # source unknown
    # A binNMU: the binary version differs, the source version is the one advisories fix.
    binnmu = deb_package(
        "libssl3", "3.0.13-1~deb12u1+b1", source="openssl", source_version="3.0.11-1~deb12u2"
    )
    match = affected_by(record, binnmu)
    assert match is not None and match.version == "3.0.11-1~deb12u2"


def test_alpine_packages_match_by_origin() -> None:
    record = parsed(alpine_openssl_cve_2023_5678())
    libcrypto = Package("libcrypto3", "3.1.3-r0", "Alpine:v3.18", source_name="openssl")
    match = affected_by(record, libcrypto)
    assert match is not None and match.fixed_version == "3.1.4-r1"
    assert (
        affected_by(record, Package("libcrypto3", "3.1.3-r0", "Alpine:v3.19", source_name="openssl")) is None
    )


def test_ubuntu_releases_carry_their_lts_suffix() -> None:
    record = parsed(ubuntu_openssl_cve_2023_5678())
    assert affected_by(record, Package("openssl", "3.0.2-0ubuntu1.10", "Ubuntu:22.04:LTS")) is not None
    assert affected_by(record, Package("openssl", "3.0.2-0ubuntu1.10", "Ubuntu:22.04")) is None


@pytest.mark.parametrize("name", ["requests", "Requests", "REQUESTS"])
def test_pypi_names_compare_as_pep_503_normalises_them(name: str) -> None:
    assert affected_by(parsed(requests_proxy_auth_leak()), pypi_package(name, "2.30.0")) is not None


def test_pep_503_separators_collapse() -> None:
    record = parsed(
        osv_record("PYSEC-1", affected_entry("PyPI", "zope.interface", {"introduced": "0"}, {"fixed": "5.0"}))
    )
    for spelling in ("zope-interface", "Zope_Interface", "zope__interface", "zope.-_interface"):
        assert affected_by(record, pypi_package(spelling, "4.7.1")) is not None, spelling
    assert affected_by(record, pypi_package("zopeinterface", "4.7.1")) is None


def test_pypi_versions_order_by_pep_440() -> None:
    record = parsed(requests_proxy_auth_leak())
    assert affected_by(record, pypi_package("requests", "2.31.0rc1")) is not None
    assert affected_by(record, pypi_package("requests", "2.31.0")) is None
    assert affected_by(record, pypi_package("requests", "2.3")) is not None
    assert affected_by(record, pypi_package("requests", "2.2.1")) is None


def test_last_affected_with_pep_440() -> None:
    record = parsed(ecdsa_minerva_last_affected())
    assert affected_by(record, pypi_package("ecdsa", "0.19.0")) is not None
    assert affected_by(record, pypi_package("ecdsa", "0.19.1")) is None


def test_semver_ranges_of_npm() -> None:
    record = parsed(
        osv_record("GHSA-npm", affected_entry("npm", "lodash", {"introduced": "0"}, {"fixed": "4.17.21"}))
    )
    match = affected_by(record, Package("lodash", "4.17.20", "npm"))
    assert match is not None and match.fixed_version == "4.17.21"
    assert affected_by(record, Package("lodash", "4.17.21", "npm")) is None
