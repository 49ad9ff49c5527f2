"""How OSV names ecosystems and packages, for comparing them with an inventory's.

OSV ecosystems of OS distributions carry the release (``Debian:12``, ``Alpine:v3.20``,
``Ubuntu:22.04:LTS``): a record for one release says nothing about another. A record whose
ecosystem has no release (``PyPI``, ``npm``, or a bare ``Debian``) applies to every release.

Package names compare exactly, except PyPI's, which compare as PEP 503 normalises them
(``Foo_Bar`` and ``foo.bar`` are the project ``foo-bar``): advisories and installed
metadata spell them differently.
"""

from __future__ import annotations

import re

__all__ = ["base_ecosystem", "ecosystem_applies", "normalize_name"]

_PEP503_SEPARATORS = re.compile(r"[-_.]+")


def base_ecosystem(ecosystem: str) -> str:
    """The ecosystem without its release: ``Debian:12`` -> ``Debian``."""
    return ecosystem.split(":", 1)[0]


def ecosystem_applies(record_ecosystem: str, package_ecosystem: str) -> bool:
    """Whether a record's affected ecosystem covers a package's ecosystem."""
    if record_ecosystem == package_ecosystem:
        return True
    return ":" not in record_ecosystem and record_ecosystem == base_ecosystem(package_ecosystem)


def normalize_name(ecosystem: str, name: str) -> str:
    """The package name as matching compares it (PEP 503 for PyPI, else unchanged)."""
    if base_ecosystem(ecosystem) == "PyPI":
        return _PEP503_SEPARATORS.sub("-", name).lower()
    return name
