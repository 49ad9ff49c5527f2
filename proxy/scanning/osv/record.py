"""OSV records (https://ossf.github.io/osv-schema/, schema 1.6), parsed into value types.

Parsing is strict about what pullgate relies on and tolerant of everything else: unknown
fields are ignored (newer schema versions add some), but a known field of the wrong type, an
event that is not exactly one of introduced/fixed/last_affected/limit, or a size beyond the
limits below refuses the record with `RecordError`. One unusable record never stops an
import: the importer reports it as a `RecordProblem` and goes on.

The limits bound what one record can cost to store and to match; each sits far above what
OSV's largest real records carry (a PyPI record lists at most a few thousand versions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EVENT_KINDS",
    "Affected",
    "Event",
    "OsvRecord",
    "Range",
    "RecordError",
    "RecordProblem",
    "SeverityScore",
    "load_record",
    "parse_record",
]

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
MAX_ID = 255
MAX_ECOSYSTEM = 128
MAX_NAME = 512
MAX_VERSION = 256
MAX_ALIASES = 1_000
MAX_AFFECTED = 10_000
MAX_RANGES = 1_000
MAX_EVENTS = 10_000
MAX_VERSIONS = 100_000
MAX_SUMMARY = 1_000  # summaries are one line; a longer one is cut, not refused

# Ids are "<PREFIX>-<local id>"; real ones also use "." and ":" (RHSA-2024:1234).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]*")
# RFC 3339 as OSV writes it; the fraction may be longer than Python's microseconds.
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})")


class RecordError(ValueError):
    """An OSV record pullgate cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A record (or a whole source) an import skipped, and why."""

    location: str  # file, or archive!member
    reason: str
    record_id: str | None = None
    whole_source: bool = False  # the archive or file could not be read at all


@dataclass(frozen=True, slots=True)
class SeverityScore:
    type: str  # CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu, or a type a newer schema adds
    score: str  # a vector for CVSS types, a priority word for Ubuntu


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # one of EVENT_KINDS
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER, GIT
    events: tuple[Event, ...]
    repo: str | None = None


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str | None  # None: an entry without a package (GIT ranges only)
    name: str | None
    purl: str | None = None
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[SeverityScore, ...] = ()
    ecosystem_specific: Mapping[str, Any] = field(default_factory=dict)
    database_specific: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OsvRecord:
    id: str
    modified: datetime
    published: datetime | None = None
    withdrawn: datetime | None = None
    aliases: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()  # schema 1.6: what this record derives from (DEBIAN-CVE -> CVE)
    summary: str = ""
    details: str = ""
    severity: tuple[SeverityScore, ...] = ()
    affected: tuple[Affected, ...] = ()
    database_specific: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def other_ids(self) -> tuple[str, ...]:
        """Aliases and upstream ids, once each, without the record's own id."""
        return tuple(dict.fromkeys(i for i in (*self.aliases, *self.upstream) if i != self.id))

    def to_json(self) -> str:
        """The record as it was read (unknown fields included), compact."""
        return json.dumps(self.raw, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def load_record(text: str | bytes) -> OsvRecord:
    """Parse one OSV record from JSON text; raises RecordError."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise RecordError(f"not JSON: {exc}") from None
    return parse_record(value)


def parse_record(value: object) -> OsvRecord:
    """An OsvRecord from a decoded JSON value; raises RecordError."""
    data = _object(value, "record")
    record_id = _string(data, "id", MAX_ID, required=True)
    if not _ID.fullmatch(record_id):
        raise RecordError(f"invalid id {record_id[:80]!r}")
    try:
        return OsvRecord(
            id=record_id,
            modified=_required_time(data, "modified"),
            published=_time(data, "published"),
            withdrawn=_time(data, "withdrawn"),
            aliases=_ids(data, "aliases"),
            upstream=_ids(data, "upstream"),
            summary=(_string(data, "summary") or "")[:MAX_SUMMARY],
            details=_string(data, "details") or "",
            severity=_severities(data),
            affected=tuple(_affected(item) for item in _array(data, "affected", MAX_AFFECTED)),
            database_specific=_object(data.get("database_specific", {}), "database_specific"),
            raw=data,
        )
    except RecordError as exc:
        raise RecordError(f"{record_id}: {exc}") from None


def _affected(value: object) -> Affected:
    data = _object(value, "affected[]")
    package = _object(data.get("package", {}), "affected[].package")
    ecosystem = _string(package, "ecosystem", MAX_ECOSYSTEM, required=bool(package))
    name = _string(package, "name", MAX_NAME, required=bool(package))
    return Affected(
        ecosystem=ecosystem or None,
        name=name or None,
        purl=_string(package, "purl", 2 * MAX_NAME),
        ranges=tuple(_range(item) for item in _array(data, "ranges", MAX_RANGES)),
        versions=tuple(_version(item, "versions[]") for item in _array(data, "versions", MAX_VERSIONS)),
        severity=_severities(data),
        ecosystem_specific=_object(data.get("ecosystem_specific", {}), "ecosystem_specific"),
        database_specific=_object(data.get("database_specific", {}), "database_specific"),
    )


def _range(value: object) -> Range:
    data = _object(value, "ranges[]")
    range_type = _string(data, "type", 32, required=True)
    events = tuple(_event(item) for item in _array(data, "events", MAX_EVENTS))
    if not events:
        raise RecordError("a range without events")
    return Range(range_type, events, _string(data, "repo", 2048))


def _event(value: object) -> Event:
    data = _object(value, "events[]")
    kinds = [kind for kind in EVENT_KINDS if kind in data]
    if len(kinds) != 1:
        raise RecordError(f"an event must hold exactly one of {', '.join(EVENT_KINDS)}")
    return Event(kinds[0], _version(data[kinds[0]], kinds[0]))


def _severities(data: Mapping[str, Any]) -> tuple[SeverityScore, ...]:
    entries = [_object(item, "severity[]") for item in _array(data, "severity", 16)]
    return tuple(
        SeverityScore(_string(entry, "type", 32, required=True), _string(entry, "score", 512, required=True))
        for entry in entries
    )


def _ids(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(_bounded(item, key, MAX_ID) for item in _array(data, key, MAX_ALIASES))


def _version(value: object, where: str) -> str:
    text = _bounded(value, where, MAX_VERSION)
    if not text:
        raise RecordError(f"{where} is empty")
    return text


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be an object")
    return value


def _array(data: Mapping[str, Any], key: str, limit: int) -> Sequence[object]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{key} must be an array")
    if len(value) > limit:
        raise RecordError(f"{key} has {len(value)} entries, more than {limit}")
    return value


def _string(data: Mapping[str, Any], key: str, limit: int | None = None, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise RecordError(f"{key} is missing")
        return ""
    return _bounded(value, key, limit)


def _bounded(value: object, where: str, limit: int | None) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{where} must be a string")
    if limit is not None and len(value) > limit:
        raise RecordError(f"{where} is longer than {limit} characters")
    return value


def _required_time(data: Mapping[str, Any], key: str) -> datetime:
    value = _time(data, key, required=True)
    if value is None:  # _time raised already; this satisfies the type checker
        raise RecordError(f"{key} is missing")
    return value


def _time(data: Mapping[str, Any], key: str, *, required: bool = False) -> datetime | None:
    text = _string(data, key, 64, required=required)
    if not text:
        return None
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise RecordError(f"{key} is not an RFC 3339 time: {text!r}")
    day, clock, fraction, offset = match.groups()
    # Microseconds are what both databases keep; a longer fraction is truncated.
    micro = f".{(fraction or '0')[:6]}"
    zone = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}{micro}{zone}").astimezone(UTC)
    except ValueError:
        raise RecordError(f"{key} is not a valid time: {text!r}") from None
