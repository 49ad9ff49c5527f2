"""Version comparison per ecosystem, for deciding whether an installed version is affected.

`compare(ecosystem, a, b)` answers -1, 0 or 1 under the ordering of the tool that owns the
ecosystem: dpkg for Debian and Ubuntu, apk-tools for Alpine, rpm for the Red Hat family,
PEP 440 for PyPI, SemVer for npm and crates.io, Go's module semver for Go, Maven's
ComparableVersion for Maven. Ecosystem names are OSV's and may carry a release suffix
(``Debian:12``, ``Ubuntu:22.04:LTS``, ``Alpine:v3.20``, ``Rocky Linux:9``): the release does
not change how versions order.

Each algorithm is written here from its specification and its tool's behaviour and is tested
against that tool's own published test vectors (``tests/unit/scanning/versions/vectors``).
Versions a scheme cannot order raise `InvalidVersion`; unknown ecosystems raise
`UnsupportedEcosystem`. Inputs longer than `MAX_VERSION_LENGTH` are refused, so hostile data
costs little. OSV's range sentinel ``introduced: "0"`` is the matcher's business, not a
version, and is not special here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from proxy.scanning.versions import apk, dpkg, golang, maven, pep440, rpm, semver
from proxy.scanning.versions._common import MAX_VERSION_LENGTH
from proxy.scanning.versions.errors import InvalidVersion, UnsupportedEcosystem

__all__ = [
    "MAX_VERSION_LENGTH",
    "Comparator",
    "InvalidVersion",
    "UnsupportedEcosystem",
    "comparator",
    "compare",
    "ecosystems",
]

Comparator = Callable[[str, str], int]

# OSV ecosystem (the part before any ":") -> the ordering its versions follow. Keys are
# case-folded: OSV spells them one way, but names that arrive from os-release or user
# configuration should not fail on case alone. A read-only view: nothing may rebind them.
_COMPARATORS: Mapping[str, Comparator] = MappingProxyType(
    {
        "debian": dpkg.compare,
        "ubuntu": dpkg.compare,
        "alpine": apk.compare,
        # Wolfi and Chainguard publish apk packages with apk-tools versions.
        "wolfi": apk.compare,
        "chainguard": apk.compare,
        "red hat": rpm.compare,
        "rocky linux": rpm.compare,
        "almalinux": rpm.compare,
        "suse": rpm.compare,
        "opensuse": rpm.compare,
        "mageia": rpm.compare,
        "openeuler": rpm.compare,
        "pypi": pep440.compare,
        "npm": semver.compare_npm,
        # Cargo's semver crate is strict SemVer 2.0.0 with no "v" prefix.
        "crates.io": semver.compare,
        "go": golang.compare,
        "maven": maven.compare,
    }
)


def comparator(ecosystem: str) -> Comparator:
    """The comparison function for an OSV ecosystem name, release suffix allowed."""
    base = ecosystem.split(":", 1)[0].strip().casefold()
    try:
        return _COMPARATORS[base]
    except KeyError:
        raise UnsupportedEcosystem(ecosystem) from None


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` sorts before, with or after version `b` in `ecosystem`."""
    return comparator(ecosystem)(a, b)


def ecosystems() -> frozenset[str]:
    """The (case-folded) ecosystem names `comparator` knows."""
    return frozenset(_COMPARATORS)
