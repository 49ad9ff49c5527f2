"""Go module versions, ordered as ``golang.org/x/mod/semver`` orders them.

Go writes ``vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`` and also accepts the shorthands
``vMAJOR`` and ``vMAJOR.MINOR`` (without pre-release or build) for ``.0`` fillers. OSV writes
Go versions without the ``v``, so both spellings are taken.

Nothing else is special: ``+incompatible`` is build metadata and so ignored by precedence,
and a pseudo-version (``v1.2.4-0.20191109021931-daa7c04131f5``) is a pre-release of the next
patch, so it sorts after the tag it was derived from and before the next release — the
ordering Go itself relies on.
"""

from __future__ import annotations

from proxy.scanning.versions.semver import SemVer, compare_parsed
from proxy.scanning.versions.semver import parse as parse_semver

__all__ = ["compare", "parse"]

_SCHEME = "Go"


def parse(text: str) -> SemVer:
    """Parse a Go module version, with or without its ``v``, shorthands included."""
    return parse_semver(text, short_forms=True, scheme=_SCHEME)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` under Go's semver.Compare."""
    return compare_parsed(parse(a), parse(b))
