"""Vulnerability policies applied to one image: the scan in force, limits, exceptions.

For each vulnerability policy matching the image (all must hold):
- a finished scan is needed. Without one (or with one older than `max_scan_age`) the
  policy's `unscanned` action applies: `hold` waits up to `hold_seconds` for the scan this
  pull queued, then answers pending ("scan in progress, retry in N s"); `deny` denies;
  `allow` serves with a warning. A scan that failed leaves the image pending, never allowed
  (unless the policy allows unscanned images, and then it says so);
- while a rescan against a newer database runs, the last finished scan stands;
- findings waived by an exception in force are listed as waived, not counted;
- an enforced policy that is broken denies, naming the offending CVEs with package,
  installed and fixed version (the first few, then a count); a warn-mode one warns.
An index has no layers of its own: its platform manifests are decided when they are pulled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from proxy.cache.keys import RepoKey
from proxy.cache.manifests import CachedManifest
from proxy.policy.model import Mode, Outcome, Reason, Verdict, worst
from proxy.policy.vulnerability import (
    Unscanned,
    Violation,
    VulnerabilityException,
    VulnerabilityPolicy,
    violations,
    waived,
)
from proxy.scanning.model import Finding, ScanReport

if TYPE_CHECKING:  # the service pulls in every scanner; the gate only needs its interface
    from proxy.gate.scans.service import CombinedState, ScanService

__all__ = ["VulnerabilityCheck"]

LISTED = 5  # offending findings named in a denial; the rest are counted


class VulnerabilityCheck:
    def __init__(self, service: ScanService) -> None:
        self._service = service

    async def check(
        self,
        key: RepoKey,
        manifest: CachedManifest,
        policies: Sequence[VulnerabilityPolicy],
        exceptions: Sequence[VulnerabilityException],
        now: datetime,
    ) -> Verdict:
        if manifest.manifest.is_index or not policies:
            return Verdict(Outcome.ALLOW, ())
        scanners = sorted({name for p in policies for name in p.scanners})
        state = await self._service.state(manifest.digest, scanners)
        report = _usable(state, policies, now)
        if report is None or not state.current:
            event = self._service.request(key, manifest)  # first sight, outdated or too old
            if report is None:
                hold = max((p.hold_seconds for p in policies if p.unscanned is Unscanned.HOLD), default=0.0)
                started = time.monotonic()
                if await self._service.wait(event, hold):
                    state = await self._service.state(manifest.digest, scanners)
                    report = _usable(state, policies, now)
                if report is None:
                    return _unscanned(policies, state, hold - (time.monotonic() - started))
        return _judge(report, policies, exceptions)


def _usable(
    state: CombinedState, policies: Sequence[VulnerabilityPolicy], now: datetime
) -> ScanReport | None:
    report = state.report
    if report is None:
        return None
    ages = [p.max_scan_age for p in policies if p.max_scan_age is not None]
    if ages and (now - report.scanned_at).total_seconds() > min(ages):
        return None
    return report


def _unscanned(policies: Sequence[VulnerabilityPolicy], state: CombinedState, left: float) -> Verdict:
    reasons: list[Reason] = []
    outcome = Outcome.ALLOW
    for policy in policies:
        detail = {"policy": policy.id, "unscanned": policy.unscanned.value}
        if policy.unscanned is Unscanned.ALLOW or policy.mode is Mode.WARN:
            reasons.append(
                Reason(
                    "vulnerability",
                    f"vulnerability policy {policy.id}: not scanned yet; served",
                    detail=detail,
                )
            )
            outcome = worst(outcome, Outcome.WARN)
        elif policy.unscanned is Unscanned.DENY:
            reasons.append(
                Reason("vulnerability", f"vulnerability policy {policy.id}: not scanned yet", detail=detail)
            )
            outcome = worst(outcome, Outcome.DENY)
        elif state.failed is not None:
            message = f"vulnerability policy {policy.id}: the scan failed ({state.failed}); retry later"
            reasons.append(Reason("vulnerability", message, detail=detail))
            outcome = worst(outcome, Outcome.PENDING)
        else:
            retry = max(1, round(left if left > 0 else policy.hold_seconds))
            message = f"vulnerability policy {policy.id}: scan in progress, retry in {retry} s"
            reasons.append(Reason("vulnerability", message, detail={**detail, "retry_after": retry}))
            outcome = worst(outcome, Outcome.PENDING)
    return Verdict(outcome, tuple(reasons))


def _judge(
    report: ScanReport, policies: Sequence[VulnerabilityPolicy], exceptions: Sequence[VulnerabilityException]
) -> Verdict:
    broken = {v.policy.id: v for v in violations(report.findings, policies, exceptions)}
    waivers = sorted({e.id for f in report.findings if (e := waived(f, exceptions)) is not None})
    scanned = f"scan by {report.scanner}, database {report.db_version}, {report.scanned_at:%Y-%m-%d %H:%MZ}"
    reasons: list[Reason] = []
    outcome = Outcome.ALLOW
    for policy in policies:
        violation = broken.get(policy.id)
        detail = {
            "policy": policy.id,
            "scanner": report.scanner,
            "db_version": report.db_version,
            "findings": len(report.findings),
            "exceptions": waivers,
        }
        if violation is None:
            message = (
                f"vulnerability policy {policy.id}: {len(report.findings)} findings within limits ({scanned})"
            )
            reasons.append(Reason("vulnerability", message, detail=detail))
            continue
        warn = " (warn)" if policy.mode is Mode.WARN else ""
        message = (
            f"vulnerability policy {policy.id}{warn}: {violation.limit}: {_listed(violation)} ({scanned})"
        )
        detail["offending"] = [_brief(f) for f in violation.offending[:50]]
        reasons.append(Reason("vulnerability", message, detail=detail))
        outcome = worst(outcome, Outcome.DENY if policy.mode is Mode.ENFORCE else Outcome.WARN)
    return Verdict(outcome, tuple(reasons))


def _listed(violation: Violation) -> str:
    named = ", ".join(_describe(f) for f in violation.offending[:LISTED])
    more = len(violation.offending) - LISTED
    return f"{named} and {more} more" if more > 0 else named


def _describe(finding: Finding) -> str:
    fixed = f"fixed in {finding.fixed_version}" if finding.fixed_version else "no fix yet"
    score = f" {finding.cvss_score}" if finding.cvss_score is not None else ""
    return (
        f"{finding.vulnerability} ({finding.severity.name.lower()}{score}, "
        f"{finding.package} {finding.installed_version}, {fixed})"
    )


def _brief(finding: Finding) -> dict[str, object]:
    return {
        "vulnerability": finding.vulnerability,
        "severity": finding.severity.name.lower(),
        "cvss_score": finding.cvss_score,
        "package": finding.package,
        "installed_version": finding.installed_version,
        "fixed_version": finding.fixed_version,
    }
