"""The scanning vocabulary shared by layer analysis, inventories, OSV matching, backends and
the gate's scan service.

Ecosystem names are OSV's (https://ossf.github.io/osv-schema/#affectedpackage-field):
``Debian``, ``Ubuntu``, ``Alpine``, ``Red Hat``, ``Rocky Linux``, ``PyPI``, ``npm``, ``Go``,
``Maven``; OS packages carry the release as OSV writes it (``Debian:12``, ``Alpine:v3.20``,
``Ubuntu:22.04:LTS``), so matching picks the advisories of that release only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

__all__ = [
    "Finding",
    "Inventory",
    "LayerAnalysis",
    "OperatingSystem",
    "Package",
    "ScanReport",
    "Severity",
]


class Severity(IntEnum):
    """Ordered so thresholds compare. UNKNOWN sorts lowest, but the policy names it explicitly:
    a record without a severity is not silently treated as "low"."""

    UNKNOWN = 0
    NONE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            return cls.UNKNOWN

    @classmethod
    def of_score(cls, score: float) -> Severity:
        """CVSS v3/v4 qualitative rating of a base score."""
        if score == 0.0:
            return cls.NONE
        if score < 4.0:
            return cls.LOW
        if score < 7.0:
            return cls.MEDIUM
        if score < 9.0:
            return cls.HIGH
        return cls.CRITICAL


@dataclass(frozen=True, slots=True)
class OperatingSystem:
    id: str  # os-release ID: debian, ubuntu, alpine, rhel, rocky
    version_id: str  # os-release VERSION_ID: 12, 3.20.1, 22.04, 9.3
    pretty_name: str = ""
    ecosystem: str | None = None  # OSV ecosystem with release: Debian:12, Alpine:v3.20, Rocky Linux:9


@dataclass(frozen=True, slots=True)
class Package:
    name: str  # binary package name (dpkg Package, apk P, rpm Name) or library name
    version: str  # as the ecosystem writes it (dpkg with epoch and revision, apk with -rN)
    ecosystem: str  # OSV ecosystem, with release for OS packages (Debian:12)
    source_name: str | None = None  # Debian Source / Alpine origin / RPM source: what advisories name
    source_version: str | None = None  # Debian "Source: name (version)" when it differs
    path: str = ""  # file it was found in (var/lib/dpkg/status, app/node_modules/x/package.json)
    layer: str | None = None  # digest of the layer that introduced it
    purl: str | None = None  # package URL, for CycloneDX

    @property
    def advisory_name(self) -> str:
        """The name OSV records use for this package (source package for Debian/Alpine)."""
        return self.source_name or self.name


@dataclass(frozen=True, slots=True)
class LayerAnalysis:
    """What one layer contributes, independent of the layers around it (cached per digest).

    `files` maps each path of interest found in the layer to the packages read from it (a
    dpkg status file lists every package installed so far; a later layer's copy replaces
    this one). `whiteouts` and `opaque_dirs` are the layer's deletions, applied to the layers
    below it when an inventory is built.
    """

    digest: str
    files: dict[str, tuple[Package, ...]] = field(default_factory=dict)
    os: OperatingSystem | None = None  # from etc/os-release (or usr/lib/os-release) in this layer
    os_path: str | None = None
    whiteouts: tuple[str, ...] = ()  # paths deleted (".wh.NAME" -> "dir/NAME")
    opaque_dirs: tuple[str, ...] = ()  # directories whose lower contents are hidden (".wh..wh..opq")
    problems: tuple[str, ...] = ()  # refused entries, bombs, limits hit: reported, not followed
    analyzer_version: int = 1


@dataclass(frozen=True, slots=True)
class Inventory:
    os: OperatingSystem | None
    packages: tuple[Package, ...]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    vulnerability: str  # the record id (CVE-2024-1234, GHSA-..., DEBIAN-CVE-...)
    aliases: tuple[str, ...]
    package: str
    installed_version: str
    ecosystem: str
    fixed_version: str | None  # the first fixed version above the installed one, if any
    severity: Severity
    cvss_score: float | None = None
    cvss_vector: str | None = None
    summary: str = ""
    layer: str | None = None
    path: str = ""

    @property
    def fixable(self) -> bool:
        return self.fixed_version is not None


@dataclass(frozen=True, slots=True)
class ScanReport:
    scanner: str  # "builtin", "trivy", "harbor:<name>"
    db_version: str  # vulnerability database version the findings were matched against
    scanned_at: datetime
    findings: tuple[Finding, ...]
    inventory: Inventory | None = None
    problems: tuple[str, ...] = ()
