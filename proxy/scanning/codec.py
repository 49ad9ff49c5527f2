"""Scan results as JSON values (for the database and the admin API), and back.

Plain dictionaries with stable keys; severities by name. Reading is tolerant of missing
optional keys so that reports written by an older pullgate stay readable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy.scanning.model import (
    Finding,
    Inventory,
    LayerAnalysis,
    OperatingSystem,
    Package,
    ScanReport,
    Severity,
)

__all__ = [
    "analysis_from_json",
    "analysis_to_json",
    "finding_from_json",
    "finding_to_json",
    "inventory_from_json",
    "inventory_to_json",
    "report_from_json",
    "report_to_json",
]


def _flat(value: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    # dataclasses.asdict deep-copies recursively; these dataclasses are flat, and a rescan
    # writes hundreds of thousands of findings, so plain attribute reads it is.
    return {name: getattr(value, name) for name in fields}


_FINDING_FIELDS = tuple(Finding.__dataclass_fields__)
_PACKAGE_FIELDS = tuple(Package.__dataclass_fields__)
_OS_FIELDS = tuple(OperatingSystem.__dataclass_fields__)


def finding_to_json(finding: Finding) -> dict[str, Any]:
    value = _flat(finding, _FINDING_FIELDS)
    value["severity"] = finding.severity.name.lower()
    value["aliases"] = list(finding.aliases)
    return value


def finding_from_json(value: dict[str, Any]) -> Finding:
    return Finding(
        vulnerability=value["vulnerability"],
        aliases=tuple(value.get("aliases", ())),
        package=value["package"],
        installed_version=value["installed_version"],
        ecosystem=value.get("ecosystem", ""),
        fixed_version=value.get("fixed_version"),
        severity=Severity.parse(value.get("severity", "unknown")),
        cvss_score=value.get("cvss_score"),
        cvss_vector=value.get("cvss_vector"),
        summary=value.get("summary", ""),
        layer=value.get("layer"),
        path=value.get("path", ""),
    )


def _package_from_json(value: dict[str, Any]) -> Package:
    known: dict[str, Any] = {k: value[k] for k in Package.__dataclass_fields__ if k in value}
    return Package(**known)


def _os_from_json(value: dict[str, Any] | None) -> OperatingSystem | None:
    return OperatingSystem(**value) if value else None


def inventory_to_json(inventory: Inventory) -> dict[str, Any]:
    return {
        "os": _flat(inventory.os, _OS_FIELDS) if inventory.os else None,
        "packages": [_flat(p, _PACKAGE_FIELDS) for p in inventory.packages],
        "problems": list(inventory.problems),
    }


def inventory_from_json(value: dict[str, Any]) -> Inventory:
    return Inventory(
        _os_from_json(value.get("os")),
        tuple(_package_from_json(p) for p in value.get("packages", ())),
        tuple(value.get("problems", ())),
    )


def report_to_json(report: ScanReport) -> dict[str, Any]:
    return {
        "scanner": report.scanner,
        "db_version": report.db_version,
        "scanned_at": report.scanned_at.isoformat(),
        "findings": [finding_to_json(f) for f in report.findings],
        "inventory": inventory_to_json(report.inventory) if report.inventory else None,
        "problems": list(report.problems),
    }


def report_from_json(value: dict[str, Any]) -> ScanReport:
    inventory = value.get("inventory")
    return ScanReport(
        scanner=value["scanner"],
        db_version=value["db_version"],
        scanned_at=datetime.fromisoformat(value["scanned_at"]),
        findings=tuple(finding_from_json(f) for f in value.get("findings", ())),
        inventory=inventory_from_json(inventory) if inventory else None,
        problems=tuple(value.get("problems", ())),
    )


def analysis_to_json(analysis: LayerAnalysis) -> dict[str, Any]:
    return {
        "digest": analysis.digest,
        "files": {
            path: [_flat(p, _PACKAGE_FIELDS) for p in packages] for path, packages in analysis.files.items()
        },
        "os": _flat(analysis.os, _OS_FIELDS) if analysis.os else None,
        "os_path": analysis.os_path,
        "whiteouts": list(analysis.whiteouts),
        "opaque_dirs": list(analysis.opaque_dirs),
        "problems": list(analysis.problems),
        "analyzer_version": analysis.analyzer_version,
    }


def analysis_from_json(value: dict[str, Any]) -> LayerAnalysis:
    return LayerAnalysis(
        digest=value["digest"],
        files={
            path: tuple(_package_from_json(p) for p in items)
            for path, items in value.get("files", {}).items()
        },
        os=_os_from_json(value.get("os")),
        os_path=value.get("os_path"),
        whiteouts=tuple(value.get("whiteouts", ())),
        opaque_dirs=tuple(value.get("opaque_dirs", ())),
        problems=tuple(value.get("problems", ())),
        analyzer_version=int(value.get("analyzer_version", 1)),
    )
