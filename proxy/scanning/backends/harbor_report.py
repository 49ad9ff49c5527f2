"""Documents of the Harbor Pluggable Scanner API, v1.2 (goharbor/pluggable-scanner-spec,
``api/spec/scanner-adapter-openapi-v1.2.yaml``): adapter metadata, scan responses, errors and
vulnerability reports, read defensively into pullgate's model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proxy.scanning.backends._document import (
    Malformed,
    as_list,
    as_object,
    as_text,
    load_json,
    optional_number,
    summary,
)
from proxy.scanning.model import Finding, Severity

__all__ = [
    "DB_UPDATED_PROPERTY",
    "ERROR_TYPE",
    "HARBOR_REPORT_V1_0",
    "METADATA_ACCEPT",
    "SCAN_REQUEST_TYPE",
    "SCAN_RESPONSE_TYPE",
    "SUPPORTED_REPORT_TYPES",
    "VULNERABILITY_REPORT_V1_1",
    "AdapterMetadata",
    "Capability",
    "error_message",
    "normalise_mime",
    "parse_metadata",
    "parse_report",
    "parse_scan_id",
]

VULNERABILITY_REPORT_V1_1 = "application/vnd.security.vulnerability.report; version=1.1"
HARBOR_REPORT_V1_0 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
SUPPORTED_REPORT_TYPES = (VULNERABILITY_REPORT_V1_1, HARBOR_REPORT_V1_0)  # same schema, preferred first
SCAN_REQUEST_TYPE = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
SCAN_RESPONSE_TYPE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
METADATA_ACCEPT = (
    "application/vnd.scanner.adapter.metadata+json; version=1.1, "
    "application/vnd.scanner.adapter.metadata+json; version=1.0"
)
ERROR_TYPE = "application/vnd.scanner.adapter.error+json; version=1.0"
DB_UPDATED_PROPERTY = "harbor.scanner-adapter/vulnerability-database-updated-at"

_MAX_SCAN_ID = 256
_MAX_ERROR_MESSAGE = 300
# The spec's severity scale. "Negligible" is still a security problem, so it is LOW, not
# NONE (which means a CVSS score of 0.0): failing closed ranks a doubt higher, not lower.
_SEVERITIES = {
    "unknown": Severity.UNKNOWN,
    "none": Severity.NONE,
    "negligible": Severity.LOW,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}


def normalise_mime(mime: str) -> str:
    """``A;  version=1.1`` and ``a; version=1.1`` compare equal; parameters keep their order."""
    return "; ".join(part.strip().lower() for part in mime.split(";") if part.strip())


@dataclass(frozen=True, slots=True)
class Capability:
    type: str  # "vulnerability" or "sbom"; absent means "vulnerability" (spec, for compatibility)
    consumes: tuple[str, ...]  # normalised artifact MIME types
    produces: tuple[str, ...]  # normalised report MIME types


@dataclass(frozen=True, slots=True)
class AdapterMetadata:
    name: str
    vendor: str
    version: str
    capabilities: tuple[Capability, ...]
    properties: Mapping[str, str] = field(default_factory=dict)

    def report_type_for(self, artifact_type: str, preferred: Sequence[str]) -> str | None:
        """The first of `preferred` that a vulnerability capability consuming `artifact_type` produces."""
        artifact = normalise_mime(artifact_type)
        produced = {
            mime
            for capability in self.capabilities
            if capability.type == "vulnerability" and artifact in capability.consumes
            for mime in capability.produces
        }
        return next((mime for mime in preferred if normalise_mime(mime) in produced), None)


def parse_metadata(raw: bytes) -> AdapterMetadata:
    document = as_object(load_json(raw, "the adapter metadata"), "the adapter metadata")
    scanner = as_object(document.get("scanner"), "scanner")
    capabilities = []
    for index, item in enumerate(as_list(document.get("capabilities"), "capabilities")):
        where = f"capabilities[{index}]"
        entry = as_object(item, where)
        capabilities.append(
            Capability(
                type=as_text(entry.get("type"), f"{where}.type", "vulnerability"),
                consumes=_mime_list(entry.get("consumes_mime_types"), f"{where}.consumes_mime_types"),
                produces=_mime_list(entry.get("produces_mime_types"), f"{where}.produces_mime_types"),
            )
        )
    properties = as_object(document.get("properties") or {}, "properties")
    return AdapterMetadata(
        name=as_text(scanner.get("name"), "scanner.name"),
        vendor=as_text(scanner.get("vendor"), "scanner.vendor"),
        version=as_text(scanner.get("version"), "scanner.version"),
        capabilities=tuple(capabilities),
        properties={key: as_text(value, f"properties.{key}") for key, value in properties.items()},
    )


def _mime_list(value: Any, where: str) -> tuple[str, ...]:
    return tuple(normalise_mime(as_text(item, where)) for item in as_list(value, where))


def parse_scan_id(raw: bytes) -> str:
    """The ``id`` of a ScanResponse; it goes into a URL path, so it must be printable text."""
    document = as_object(load_json(raw, "the scan response"), "the scan response")
    scan_id = as_text(document.get("id"), "id").strip()
    if not scan_id or len(scan_id) > _MAX_SCAN_ID or not scan_id.isprintable():
        raise Malformed("the scan response has no usable id")
    return scan_id


def error_message(raw: bytes) -> str | None:
    """``error.message`` of an ErrorResponse, quoted short; None for anything else."""
    try:
        document = as_object(load_json(raw, "the error"), "the error")
        message = as_text(as_object(document.get("error"), "error").get("message"), "message")
    except Malformed:
        return None
    message = " ".join(message.split())
    return message[:_MAX_ERROR_MESSAGE] or None


def parse_report(raw: bytes, *, digest: str) -> tuple[Finding, ...]:
    """A HarborVulnerabilityReport for the artifact `digest`. A report without
    ``vulnerabilities`` is clean (adapters omit the empty list), but it must still be a report."""
    report = as_object(load_json(raw, "the scan report"), "the scan report")
    if not report.keys() & {"vulnerabilities", "generated_at", "scanner", "artifact"}:
        raise Malformed("the document is not a vulnerability report")
    artifact = as_object(report.get("artifact") or {}, "artifact")
    reported = as_text(artifact.get("digest"), "artifact.digest")
    if reported and reported != digest:
        raise Malformed(f"the report is for {reported}, not {digest}")
    items = as_list(report.get("vulnerabilities"), "vulnerabilities")
    return tuple(_finding(as_object(item, f"vulnerabilities[{i}]"), i) for i, item in enumerate(items))


def _finding(item: dict[str, Any], index: int) -> Finding:
    where = f"vulnerabilities[{index}]"
    vuln_id = as_text(item.get("id"), f"{where}.id")
    package = as_text(item.get("package"), f"{where}.package")
    if not vuln_id or not package:
        raise Malformed(f"{where} has no id or package")
    severity = as_text(item.get("severity"), f"{where}.severity", "Unknown")
    cvss = as_object(item.get("preferred_cvss") or {}, f"{where}.preferred_cvss")
    score, vector = _cvss(cvss, f"{where}.preferred_cvss")
    layer = as_object(item.get("layer") or {}, f"{where}.layer")  # harbor-scanner-trivy's extension
    return Finding(
        vulnerability=vuln_id,
        aliases=(),
        package=package,
        installed_version=as_text(item.get("version"), f"{where}.version"),
        ecosystem="",  # the protocol does not say which ecosystem a package belongs to
        fixed_version=as_text(item.get("fix_version"), f"{where}.fix_version").strip() or None,
        severity=_SEVERITIES.get(severity.strip().lower(), Severity.UNKNOWN),
        cvss_score=score,
        cvss_vector=vector,
        summary=summary(as_text(item.get("description"), f"{where}.description")),
        layer=as_text(layer.get("digest"), f"{where}.layer.digest") or None,
    )


def _cvss(cvss: dict[str, Any], where: str) -> tuple[float | None, str | None]:
    for version in ("v3", "v2"):
        score = optional_number(cvss.get(f"score_{version}"), f"{where}.score_{version}")
        if score is not None:
            return score, as_text(cvss.get(f"vector_{version}"), f"{where}.vector_{version}") or None
    return None, None
