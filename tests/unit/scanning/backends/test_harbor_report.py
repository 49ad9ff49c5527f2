"""Harbor Pluggable Scanner documents (spec v1.2) and the client's settings.

Report items are shaped like harbor-scanner-trivy's (aquasecurity/harbor-scanner-trivy,
``pkg/harbor/model.go``); metadata like the spec's ``ScannerAdapterMetadata`` example.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.scanning.backends._document import Malformed
from proxy.scanning.backends.harbor import HarborAdapterConfig, refresh_delay
from proxy.scanning.backends.harbor_report import (
    HARBOR_REPORT_V1_0,
    SUPPORTED_REPORT_TYPES,
    VULNERABILITY_REPORT_V1_1,
    error_message,
    normalise_mime,
    parse_metadata,
    parse_report,
    parse_scan_id,
)
from proxy.scanning.model import Severity

DIGEST = "sha256:" + "6c" * 32
OCI = "application/vnd.oci.image.manifest.v1+json"
DOCKER = "application/vnd.docker.distribution.manifest.v2+json"


def report(*items: dict[str, Any], digest: str = DIGEST) -> bytes:
    return json.dumps(
        {
            "generated_at": "2024-06-01T12:00:00Z",
            "artifact": {"repository": "library/mongo", "digest": digest},
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.76.0"},
            "vulnerabilities": list(items),
        }
    ).encode()


def item(**fields: Any) -> dict[str, Any]:
    return {"id": "CVE-2017-8283", "package": "dpkg", "version": "1.17.27", **fields}


def test_reads_a_spec_example_item() -> None:
    (finding,) = parse_report(
        report(
            item(
                fix_version="1.18.0",
                severity="Low",
                description="dpkg-source in dpkg 1.3.0 through 1.18.23 is able to use a non-GNU patch program\nand more",
                links=["https://security-tracker.debian.org/tracker/CVE-2017-8283"],
                preferred_cvss={"score_v3": 3.2, "vector_v3": "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"},
                layer={"digest": "sha256:" + "aa" * 32, "diff_id": "sha256:" + "bb" * 32},
            )
        ),
        digest=DIGEST,
    )

    assert (finding.vulnerability, finding.package, finding.installed_version) == (
        "CVE-2017-8283",
        "dpkg",
        "1.17.27",
    )
    assert (finding.fixed_version, finding.severity) == ("1.18.0", Severity.LOW)
    assert (finding.cvss_score, finding.cvss_vector) == (3.2, "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")
    assert (
        finding.summary == "dpkg-source in dpkg 1.3.0 through 1.18.23 is able to use a non-GNU patch program"
    )
    assert finding.layer == "sha256:" + "aa" * 32


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("Unknown", Severity.UNKNOWN),
        ("Negligible", Severity.LOW),
        ("Medium", Severity.MEDIUM),
        ("HIGH", Severity.HIGH),
        ("Critical", Severity.CRITICAL),
        ("Apocalyptic", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
    ],
)
def test_maps_the_spec_severity_scale(severity: str | None, expected: Severity) -> None:
    (finding,) = parse_report(report(item(severity=severity)), digest=DIGEST)

    assert finding.severity is expected


def test_cvss_v2_only_when_there_is_no_v3() -> None:
    (finding,) = parse_report(
        report(item(preferred_cvss={"score_v2": 5.0, "vector_v2": "AV:N/AC:L/Au:N/C:N/I:N/A:P"})),
        digest=DIGEST,
    )
    (bare,) = parse_report(report(item(preferred_cvss=None, fix_version="")), digest=DIGEST)

    assert (finding.cvss_score, finding.cvss_vector) == (5.0, "AV:N/AC:L/Au:N/C:N/I:N/A:P")
    assert (bare.cvss_score, bare.cvss_vector, bare.fixed_version) == (None, None, None)


def test_a_report_without_vulnerabilities_is_clean() -> None:
    """harbor-scanner-trivy omits the empty list (``omitempty``)."""
    raw = json.dumps({"generated_at": "2024-06-01T12:00:00Z", "artifact": {"digest": DIGEST}}).encode()

    assert parse_report(raw, digest=DIGEST) == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not JSON"),
        (b"[]", "not an object"),
        (b"{}", "not a vulnerability report"),
        (b'{"error": {"message": "boom"}}', "not a vulnerability report"),
        (report(digest="sha256:" + "00" * 32), "the report is for sha256:00"),
        (report(item(id="")), "no id or package"),
        (report(item(severity=3)), "severity is not a string"),
        (report(item(preferred_cvss={"score_v3": "high"})), "score_v3 is not a number"),
        (b'{"vulnerabilities": {}}', "vulnerabilities is not an array"),
    ],
)
def test_garbled_reports_are_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse_report(raw, digest=DIGEST)

    assert message in str(caught.value)


METADATA = {
    "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.76.0"},
    "capabilities": [
        {
            "consumes_mime_types": [OCI, DOCKER],
            "produces_mime_types": ["application/vnd.scanner.adapter.vuln.report.harbor+json;version=1.0"],
        },
        {
            "type": "sbom",
            "consumes_mime_types": [OCI],
            "produces_mime_types": ["application/vnd.security.vulnerability.report; version=1.1"],
        },
    ],
    "properties": {"harbor.scanner-adapter/vulnerability-database-updated-at": "2019-08-13T08:16:33.345Z"},
}


def test_a_capability_without_type_is_a_vulnerability_capability() -> None:
    meta = parse_metadata(json.dumps(METADATA).encode())

    # The sbom capability's 1.1 type does not count; the untyped one's 1.0 type does,
    # however its parameters are spaced.
    assert meta.report_type_for(OCI, SUPPORTED_REPORT_TYPES) == HARBOR_REPORT_V1_0
    assert meta.report_type_for("application/vnd.oci.image.index.v1+json", SUPPORTED_REPORT_TYPES) is None
    assert meta.report_type_for(OCI, (VULNERABILITY_REPORT_V1_1,)) is None
    assert (meta.name, meta.version) == ("Trivy", "0.76.0")


@pytest.mark.parametrize(
    "document",
    [
        {"capabilities": []},
        {**METADATA, "capabilities": [{"consumes_mime_types": "x"}]},
        {**METADATA, "properties": {"a": 1}},
    ],
)
def test_garbled_metadata_is_malformed(document: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        parse_metadata(json.dumps(document).encode())


def test_mime_types_compare_without_spacing_or_case() -> None:
    assert normalise_mime("Application/X;Version=1.1") == normalise_mime("application/x;  version=1.1")


@pytest.mark.parametrize(
    "raw", [b'{"id": ""}', b'{"id": 7}', b'{"id": "a\\nb"}', b'{"id": "' + b"x" * 300 + b'"}', b"[]"]
)
def test_unusable_scan_ids_are_malformed(raw: bytes) -> None:
    with pytest.raises(Malformed):
        parse_scan_id(raw)


def test_scan_ids_are_kept_verbatim() -> None:
    assert (
        parse_scan_id(b'{"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}')
        == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    )


def test_error_messages_are_quoted_short_or_not_at_all() -> None:
    assert error_message(b'{"error": {"message": "  scan\\n failed  "}}') == "scan failed"
    assert error_message(b'{"error": {"message": "' + b"x" * 1000 + b'"}}') == "x" * 300
    assert error_message(b"<html>") is None
    assert error_message(b'{"error": "boom"}') is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0", 1.0),
        ("3600", 60.0),
        (None, 5.0),
        ("soon", 5.0),
        ("nan", 5.0),
        ("-4", 1.0),
        ("2.5", 2.5),
    ],
)
def test_refresh_after_is_honoured_within_bounds(header: str | None, expected: float) -> None:
    assert refresh_delay(header, default=5.0, low=1.0, high=60.0) == expected


def test_adapter_credentials_become_one_header() -> None:
    assert HarborAdapterConfig(name="a", url="http://x", bearer_token="t").authorization == "Bearer t"
    assert (
        HarborAdapterConfig(name="a", url="http://x", username="u", password="p").authorization
        == "Basic dTpw"
    )
    assert HarborAdapterConfig(name="a", url="http://x").authorization is None
    assert "t0ps3cret" not in repr(HarborAdapterConfig(name="a", url="http://x", bearer_token="t0ps3cret"))


@pytest.mark.parametrize(
    "options",
    [
        {"url": "adapter:8080"},
        {"url": "http://user:pw@adapter"},
        {"url": "http://adapter", "bearer_token": "t", "username": "u", "password": "p"},
        {"url": "http://adapter", "username": "u"},
        {"url": "http://adapter", "deadline": 0},
        {"url": "http://adapter", "min_poll_interval": 10, "max_poll_interval": 5},
    ],
)
def test_invalid_adapter_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HarborAdapterConfig(name="a", **options)
