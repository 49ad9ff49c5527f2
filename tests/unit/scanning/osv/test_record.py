"""OSV records parse strictly where pullgate relies on them, tolerantly elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from proxy.scanning.osv.record import MAX_AFFECTED, MAX_VERSION, RecordError, load_record, parse_record
from tests.support.osv import (
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    osv_record,
    parsed,
    requests_proxy_auth_leak,
    withdrawn_requests_duplicate,
)


def test_a_debian_record_parses_with_one_entry_per_release() -> None:
    record = parsed(debian_openssl_cve_2023_5678())
    assert record.id == "DEBIAN-CVE-2023-5678"
    assert record.modified == datetime(2024, 9, 18, 3, 15, 45, 624914, tzinfo=UTC)
    assert record.upstream == ("CVE-2023-5678",)
    assert record.other_ids == ("CVE-2023-5678",)
    assert [(a.ecosystem, a.name) for a in record.affected] == [
        ("Debian:11", "openssl"),
        ("Debian:12", "openssl"),
    ]
    bookworm = record.affected[1]
    assert bookworm.purl == "pkg:deb/debian/openssl?arch=source"
    assert [(e.kind, e.version) for e in bookworm.ranges[0].events] == [
        ("introduced", "0"),
        ("fixed", "3.0.13-1~deb12u1"),
    ]
    assert "3.0.11-1~deb12u2" in bookworm.versions
    assert record.withdrawn is None


def test_a_ghsa_record_keeps_severity_and_database_specific() -> None:
    record = parsed(requests_proxy_auth_leak())
    assert record.aliases == ("CVE-2023-32681",)
    assert record.severity[0].type == "CVSS_V3"
    assert record.database_specific["severity"] == "MODERATE"
    assert record.summary.startswith("Unintended leak")
    assert record.published == datetime(2023, 5, 22, 20, 36, 32, tzinfo=UTC)


def test_withdrawn_and_last_affected_are_read() -> None:
    assert parsed(withdrawn_requests_duplicate()).withdrawn == datetime(2023, 5, 23, 10, tzinfo=UTC)
    events = parsed(ecdsa_minerva_last_affected()).affected[0].ranges[0].events
    assert events[-1].kind == "last_affected"


def test_unknown_fields_are_tolerated_and_kept_for_storage() -> None:
    data = osv_record(
        "PYSEC-2024-1",
        {"package": {"ecosystem": "PyPI", "name": "x"}, "future": [1]},
        credits=[{"name": "n"}],
    )
    data["a_field_from_schema_2"] = {"anything": True}
    record = parse_record(data)
    assert json.loads(record.to_json())["a_field_from_schema_2"] == {"anything": True}
    assert load_record(record.to_json()) == record


def test_an_entry_without_a_package_is_kept_but_names_nothing() -> None:
    git_only = {
        "ranges": [
            {"type": "GIT", "repo": "https://github.com/openssl/openssl", "events": [{"introduced": "abc"}]}
        ]
    }
    record = parse_record(osv_record("OSV-2024-1", git_only))
    assert record.affected[0].ecosystem is None and record.affected[0].name is None


def test_timestamps_with_nanoseconds_and_offsets_are_read_as_utc() -> None:
    record = parse_record(osv_record("OSV-1", modified="2024-02-29T23:59:59.123456789+02:00"))
    assert record.modified == datetime(2024, 2, 29, 21, 59, 59, 123456, tzinfo=UTC)


def _with(**changes: Any) -> dict[str, Any]:
    return {**requests_proxy_auth_leak(), **changes}


def _entry(**changes: Any) -> dict[str, Any]:
    entry = requests_proxy_auth_leak()["affected"][0]
    return _with(affected=[{**entry, **changes}])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "record must be an object"),
        ({"modified": "2024-01-01T00:00:00Z"}, "id is missing"),
        (_with(id="GHSA x"), "invalid id"),
        (_with(id="G" * 300), "id is longer"),
        (_with(modified=None), "modified is missing"),
        (_with(modified="yesterday"), "not an RFC 3339 time"),
        (_with(modified="2024-13-40T00:00:00Z"), "not a valid time"),
        (_with(aliases="CVE-2023-32681"), "aliases must be an array"),
        (_with(aliases=[7]), "aliases must be a string"),
        (_with(affected={"package": {}}), "affected must be an array"),
        (_with(affected=[{"package": {"ecosystem": "PyPI"}}]), "name is missing"),
        (_with(affected=[{"package": {"ecosystem": "PyPI", "name": "n" * 600}}]), "name is longer"),
        (_entry(ranges=[{"type": "ECOSYSTEM", "events": []}]), "a range without events"),
        (_entry(ranges=[{"events": [{"introduced": "0"}]}]), "type is missing"),
        (
            _entry(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]),
            "exactly one of",
        ),
        (_entry(ranges=[{"type": "ECOSYSTEM", "events": [{"patched": "1"}]}]), "exactly one of"),
        (_entry(ranges=[{"type": "ECOSYSTEM", "events": [{"fixed": 2}]}]), "fixed must be a string"),
        (_entry(ranges=[{"type": "ECOSYSTEM", "events": [{"fixed": ""}]}]), "fixed is empty"),
        (_entry(versions=["1" * (MAX_VERSION + 1)]), "versions[] is longer"),
        (_entry(ecosystem_specific=[]), "ecosystem_specific must be an object"),
        (_with(severity=[{"type": "CVSS_V3"}]), "score is missing"),
        (_with(affected=[{}] * (MAX_AFFECTED + 1)), "more than"),
    ],
)
def test_unusable_records_are_refused_with_a_reason(data: object, reason: str) -> None:
    with pytest.raises(RecordError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_record(data)


def test_a_refusal_names_the_record() -> None:
    with pytest.raises(RecordError, match=r"^GHSA-j8r2-6x86-q33q: "):
        parse_record(_with(aliases=[7]))


@pytest.mark.parametrize("text", [b"{", b"[" * 100_000 + b"]" * 100_000, "null"])
def test_load_record_refuses_what_is_not_a_record(text: str | bytes) -> None:
    with pytest.raises(RecordError):
        load_record(text)


def test_long_summaries_are_cut_not_refused() -> None:
    assert len(parse_record(_with(summary="s" * 5000)).summary) == 1000
