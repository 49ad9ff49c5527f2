"""Matching an image's inventory against the stored OSV records: the built-in scanner's core.

The records for every (ecosystem, advisory name) of the inventory are fetched in one call;
matching them is CPU work (version parsing and comparison, over thousands of records for an
OS image) and runs in a worker thread. A finding is one (vulnerability, package, version):
a package found twice (the same wheel in two site-packages) is reported once. Findings come
most severe first, then by id, so reports and their diffs are stable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

from proxy.scanning.model import Finding, Package
from proxy.scanning.osv.match import affected_by, severity_of
from proxy.scanning.osv.names import base_ecosystem, normalize_name
from proxy.scanning.osv.record import OsvRecord

__all__ = ["RecordSource", "match_inventory", "match_records"]

_SUMMARY = 300  # a finding's summary: a line, not the advisory


class RecordSource(Protocol):
    """Where records come from: db.vulndb_queries.VulnStore."""

    async def records_for(self, pairs: Iterable[tuple[str, str]]) -> list[OsvRecord]: ...


async def match_inventory(packages: Sequence[Package], store: RecordSource) -> list[Finding]:
    """The findings of `packages` against the records `store` holds for them."""
    pairs = sorted({(package.ecosystem, package.advisory_name) for package in packages})
    if not pairs:
        return []
    records = await store.records_for(pairs)
    return await asyncio.to_thread(match_records, packages, records)


def match_records(packages: Sequence[Package], records: Sequence[OsvRecord]) -> list[Finding]:
    """The findings of `packages` against `records` (pure; `match_inventory` without I/O)."""
    index: dict[tuple[str, str], dict[str, OsvRecord]] = {}
    for record in records:
        for affected in record.affected:
            if affected.ecosystem and affected.name:
                key = (affected.ecosystem, normalize_name(affected.ecosystem, affected.name))
                index.setdefault(key, {})[record.id] = record
    findings: dict[tuple[str, str, str], Finding] = {}
    for package in packages:
        name = normalize_name(package.ecosystem, package.advisory_name)
        # Records of this release, and records without a release (which cover every one).
        candidates = {
            **index.get((base_ecosystem(package.ecosystem), name), {}),
            **index.get((package.ecosystem, name), {}),
        }
        for record in candidates.values():
            finding = _finding(record, package)
            if finding is not None:
                findings.setdefault(
                    (finding.vulnerability, finding.package, finding.installed_version), finding
                )
    return sorted(
        findings.values(), key=lambda f: (-f.severity, f.vulnerability, f.package, f.installed_version)
    )


def _finding(record: OsvRecord, package: Package) -> Finding | None:
    match = affected_by(record, package)
    if match is None:
        return None
    severity, score, vector = severity_of(record, match.affected)
    return Finding(
        vulnerability=record.id,
        aliases=record.other_ids,
        package=package.name,
        installed_version=package.version,
        ecosystem=package.ecosystem,
        fixed_version=match.fixed_version,
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        summary=_summary(record),
        layer=package.layer,
        path=package.path,
    )


def _summary(record: OsvRecord) -> str:
    text = record.summary or record.details.strip().split("\n", 1)[0]
    return text if len(text) <= _SUMMARY else text[: _SUMMARY - 1] + "…"
