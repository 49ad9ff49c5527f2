"""Is a package affected by an OSV record, which version fixes it, and how severe is it.

Ranges are evaluated as the OSV specification's "Evaluation" section describes
(https://ossf.github.io/osv-schema/#evaluation): events sorted by version, ``introduced:
"0"`` before every version, ``fixed`` and ``limit`` exclusive, ``last_affected`` inclusive,
the ranges of an entry OR'ed with each other and with its explicit ``versions`` list. GIT
ranges name commits, which an image does not record, so they never match. Withdrawn
records never match.

A range whose versions the ecosystem's ordering cannot read (`InvalidVersion`) is skipped,
as is every range of an ecosystem pullgate has no ordering for (`UnsupportedEcosystem`):
only the explicit ``versions`` list can then match. OS packages compare their source
version when the inventory knows it: advisories name source packages and their versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cmp_to_key

from proxy.scanning import cvss
from proxy.scanning.model import Package, Severity
from proxy.scanning.osv.names import ecosystem_applies, normalize_name
from proxy.scanning.osv.record import Affected, Event, OsvRecord, Range, SeverityScore
from proxy.scanning.versions import Comparator, comparator, semver

__all__ = ["AffectedMatch", "affected_by", "severity_of"]

ComparatorFor = Callable[[str], Comparator]


@dataclass(frozen=True, slots=True)
class AffectedMatch:
    record: OsvRecord
    affected: Affected  # the entry that matched (its severity may override the record's)
    version: str  # the version compared: the source version of an OS package, if known
    fixed_version: str | None  # the smallest fixed version above `version`, if any


def affected_by(
    record: OsvRecord, package: Package, *, comparator_for: ComparatorFor = comparator
) -> AffectedMatch | None:
    """The match of `package` against `record`, or None when it is not affected."""
    if record.withdrawn is not None:
        return None
    name = normalize_name(package.ecosystem, package.advisory_name)
    version = package.source_version or package.version
    found: AffectedMatch | None = None
    for affected in record.affected:
        if affected.ecosystem is None or affected.name is None:
            continue
        if not ecosystem_applies(affected.ecosystem, package.ecosystem):
            continue
        if normalize_name(affected.ecosystem, affected.name) != name:
            continue
        match = _match_entry(record, affected, version, package.ecosystem, comparator_for)
        # Several entries may name the package (one per range set): the earliest fix wins.
        if match is not None and (
            found is None or _earlier_fix(match, found, package.ecosystem, comparator_for)
        ):
            found = match
    return found


def _match_entry(
    record: OsvRecord, affected: Affected, version: str, ecosystem: str, comparator_for: ComparatorFor
) -> AffectedMatch | None:
    ordering = _ordering(ecosystem, comparator_for)
    listed = version in affected.versions
    matched = False
    fixes: list[str] = []
    for candidate in affected.ranges:
        compare = ordering or (semver.compare_npm if candidate.type == "SEMVER" else None)
        if compare is None or candidate.type not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits; other types are a newer schema's
        try:
            inside = _in_range(candidate, version, compare)
            if inside or listed:
                fixes += [
                    e.version
                    for e in candidate.events
                    if e.kind == "fixed" and compare(e.version, version) > 0
                ]
        except ValueError:  # InvalidVersion: this range cannot be evaluated
            continue
        matched |= inside
    if not (matched or listed):
        return None
    return AffectedMatch(record, affected, version, _smallest(fixes, ordering))


def _ordering(ecosystem: str, comparator_for: ComparatorFor) -> Comparator | None:
    """The ecosystem's version ordering; None if pullgate has none (SEMVER ranges then use
    plain SemVer, with npm's tolerance of a leading "v")."""
    try:
        return comparator_for(ecosystem)
    except ValueError:  # UnsupportedEcosystem
        return None


def _in_range(candidate: Range, version: str, compare: Comparator) -> bool:
    # "limit": versions at or above every limit are outside the range ("*" is no limit).
    limits = [event.version for event in candidate.events if event.kind == "limit"]
    if limits and not any(limit == "*" or compare(version, limit) < 0 for limit in limits):
        return False
    affected = False
    for event in _sorted_events(candidate, compare):
        if event.kind == "introduced":
            if event.version == "0" or compare(version, event.version) >= 0:
                affected = True
        elif event.kind == "fixed":
            if compare(version, event.version) >= 0:
                affected = False
        elif event.kind == "last_affected" and compare(version, event.version) > 0:
            affected = False
    return affected


def _sorted_events(candidate: Range, compare: Comparator) -> list[Event]:
    def order(a: Event, b: Event) -> int:
        # "0" precedes everything; at equal versions "introduced" goes first, so that
        # introduced X + fixed X is empty and introduced X + last_affected X is {X}.
        if a.version == "0" and a.kind == "introduced":
            return -1
        if b.version == "0" and b.kind == "introduced":
            return 1
        return compare(a.version, b.version) or (b.kind == "introduced") - (a.kind == "introduced")

    events = [event for event in candidate.events if event.kind != "limit"]
    return sorted(events, key=cmp_to_key(order))


def _smallest(versions: list[str], ordering: Comparator | None) -> str | None:
    if not versions:
        return None
    return min(versions, key=cmp_to_key(ordering or semver.compare_npm))


def _earlier_fix(
    new: AffectedMatch, old: AffectedMatch, ecosystem: str, comparator_for: ComparatorFor
) -> bool:
    if new.fixed_version is None or old.fixed_version is None:
        return old.fixed_version is None and new.fixed_version is not None
    earliest = _smallest([old.fixed_version, new.fixed_version], _ordering(ecosystem, comparator_for))
    return earliest == new.fixed_version != old.fixed_version


# -- severity ---------------------------------------------------------------------------------
# Words advisories use for severity: GHSA (database_specific.severity), Ubuntu priorities,
# Debian urgencies, Red Hat impacts. Debian's "unimportant" and Ubuntu's "negligible" are
# real but minor issues: LOW, not NONE.
_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "none": Severity.NONE,
}


def severity_of(
    record: OsvRecord, affected: Affected | None = None
) -> tuple[Severity, float | None, str | None]:
    """(severity, CVSS score, CVSS vector) of `record` for one affected entry.

    The highest CVSS v4.0 or v3.x base score computed from the vectors given (the entry's
    own severity list replaces the record's, as the schema says); without a usable vector,
    the highest severity word the record or entry states; otherwise UNKNOWN.
    """
    entries = (affected.severity if affected is not None else ()) or record.severity
    scored = [score for score in (_cvss(entry) for entry in entries) if score is not None]
    if scored:
        best = max(scored, key=lambda score: score.score)
        return Severity.of_score(best.score), best.score, best.vector
    words = [_word(entry.score) for entry in entries if entry.type == "Ubuntu"]
    words += [_word(text) for text in _stated(record, affected)]
    known = [word for word in words if word is not Severity.UNKNOWN]
    return (max(known) if known else Severity.UNKNOWN), None, None


def _cvss(entry: SeverityScore) -> cvss.CvssScore | None:
    if entry.type not in ("CVSS_V3", "CVSS_V4"):
        return None  # CVSS_V2 has another scale; Ubuntu is a word
    try:
        return cvss.score(entry.score)
    except cvss.CvssError:
        return None


def _stated(record: OsvRecord, affected: Affected | None) -> Iterable[object]:
    places = [record.database_specific]
    if affected is not None:
        places += [affected.ecosystem_specific, affected.database_specific]
    for place in places:
        for key in ("severity", "urgency"):
            yield place.get(key)


def _word(text: object) -> Severity:
    if not isinstance(text, str):
        return Severity.UNKNOWN
    return _WORDS.get(text.strip().rstrip("*").lower(), Severity.UNKNOWN)  # Debian writes "low**"
