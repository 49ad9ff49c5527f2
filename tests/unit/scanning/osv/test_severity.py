"""Severities: the highest CVSS v4.0/v3.x base score of the vectors, else the words stated."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.scanning.model import Severity
from proxy.scanning.osv.match import severity_of
from tests.support.osv import (
    affected_entry,
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    osv_record,
    parsed,
    requests_proxy_auth_leak,
    ubuntu_openssl_cve_2023_5678,
)

V31_HEARTBLEED = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5 (FIRST's v3.1 examples)
V40_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3


def _record(severity: list[dict[str, str]] | None = None, **fields: Any) -> Any:
    extra: dict[str, Any] = {**fields, **({"severity": severity} if severity else {})}
    return parsed(osv_record("GHSA-test", affected_entry("PyPI", "x", {"introduced": "0"}), **extra))


def test_a_v3_vector_is_scored() -> None:
    record = parsed(requests_proxy_auth_leak())
    assert severity_of(record, record.affected[0]) == (
        Severity.MEDIUM,
        6.1,
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
    )


def test_the_highest_of_v3_and_v4_wins() -> None:
    record = parsed(ecdsa_minerva_last_affected())
    severity, score, vector = severity_of(record, record.affected[0])
    assert (severity, score) == (Severity.CRITICAL, 9.1)
    assert vector is not None and vector.startswith("CVSS:4.0/")
    lower_v4 = _record(
        [
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"},
            {"type": "CVSS_V3", "score": V31_HEARTBLEED},
        ]
    )
    assert severity_of(lower_v4) == (Severity.HIGH, 7.5, V31_HEARTBLEED)


def test_an_entry_severity_replaces_the_records() -> None:
    entry = affected_entry(
        "PyPI", "x", {"introduced": "0"}, severity=[{"type": "CVSS_V4", "score": V40_CRITICAL}]
    )
    record = parsed(osv_record("GHSA-test", entry, severity=[{"type": "CVSS_V3", "score": V31_HEARTBLEED}]))
    assert severity_of(record, record.affected[0])[1] == 9.3
    assert severity_of(record)[1] == 7.5


def test_v2_and_invalid_vectors_fall_back_to_stated_words() -> None:
    record = _record(
        [
            {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"},
        ],
        database_specific={"severity": "MODERATE"},
    )
    assert severity_of(record) == (Severity.MEDIUM, None, None)


def test_ubuntu_priorities_are_severities() -> None:
    record = parsed(ubuntu_openssl_cve_2023_5678())
    assert severity_of(record, record.affected[0]) == (Severity.LOW, None, None)


@pytest.mark.parametrize(
    ("where", "word", "expected"),
    [
        ("database_specific", "CRITICAL", Severity.CRITICAL),
        ("database_specific", "Important", Severity.HIGH),  # Red Hat
        ("ecosystem_specific", "medium", Severity.MEDIUM),
        ("ecosystem_specific", "low**", Severity.LOW),  # Debian's "low, but..."
        ("ecosystem_specific", "unimportant", Severity.LOW),
        ("ecosystem_specific", "not yet assigned", Severity.UNKNOWN),
    ],
)
def test_words_stated_by_the_entry_are_read(where: str, word: str, expected: Severity) -> None:
    key = "urgency" if where == "ecosystem_specific" else "severity"
    entry = affected_entry("Debian:12", "x", {"introduced": "0"}, **{where: {key: word}})
    record = parsed(osv_record("DEBIAN-CVE-1", entry))
    assert severity_of(record, record.affected[0]) == (expected, None, None)


def test_the_highest_word_wins() -> None:
    entry = affected_entry("Debian:12", "x", {"introduced": "0"}, ecosystem_specific={"urgency": "high"})
    record = parsed(osv_record("DEBIAN-CVE-1", entry, database_specific={"severity": "low"}))
    assert severity_of(record, record.affected[0])[0] is Severity.HIGH


def test_nothing_stated_is_unknown() -> None:
    record = parsed(debian_openssl_cve_2023_5678())
    assert severity_of(record, record.affected[1]) == (Severity.UNKNOWN, None, None)
    assert severity_of(_record(database_specific={"severity": 3})) == (Severity.UNKNOWN, None, None)
