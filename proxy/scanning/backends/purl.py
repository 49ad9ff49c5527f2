"""Package URLs (https://github.com/package-url/purl-spec) and the OSV ecosystems they name.

Scanners identify packages by purl; pullgate matches them against OSV records, whose
ecosystems carry the OS release (``Debian:12``, ``Alpine:v3.20``, ``Ubuntu:22.04:LTS``).
Release strings follow https://ossf.github.io/osv-schema/#affectedpackage-field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["PackageURL", "distro_ecosystem", "ecosystem_of", "os_release_id", "osv_package_name"]

_TYPE = re.compile(r"[a-z.+-][a-z0-9.+-]*")
_MAX_PURL = 4096


@dataclass(frozen=True, slots=True)
class PackageURL:
    type: str  # lowercased: deb, apk, rpm, pypi, npm, golang, maven, ...
    namespace: str  # "" when absent; decoded segments joined by "/"
    name: str
    version: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    subpath: str = ""

    @classmethod
    def parse(cls, text: str) -> PackageURL:
        """Parse per the spec's "How to parse" steps; raises ValueError."""
        if len(text) > _MAX_PURL:
            raise ValueError("purl is too long")
        rest, _, subpath = text.partition("#")
        rest, _, query = rest.partition("?")
        scheme, sep, rest = rest.partition(":")
        if scheme.lower() != "pkg" or not sep:
            raise ValueError(f"{text!r} is not a purl (no 'pkg:' scheme)")
        kind, sep, rest = rest.strip("/").partition("/")
        if not sep or not _TYPE.fullmatch(kind.lower()):
            raise ValueError(f"purl {text!r} has no valid type")
        path, _, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
        namespace, _, name = path.strip("/").rpartition("/")
        if not name:
            raise ValueError(f"purl {text!r} has no name")
        return cls(
            type=kind.lower(),
            namespace="/".join(unquote(s) for s in namespace.split("/") if s),
            name=unquote(name),
            version=unquote(version),
            qualifiers=_qualifiers(query),
            subpath=unquote(subpath.strip("/")),
        )

    def qualifier(self, key: str) -> str | None:
        return next((value for k, value in self.qualifiers if k == key), None)


def _qualifiers(query: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in query.split("&"):
        key, sep, value = item.partition("=")
        if sep and value:  # the spec drops qualifiers with empty values
            pairs.append((key.lower(), unquote(value)))
    return tuple(pairs)


# purl type -> OSV ecosystem, for ecosystems without an OS release.
_LANGUAGES = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "maven": "Maven",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "hex": "Hex",
    "pub": "Pub",
    "conan": "ConanCenter",
    "swift": "SwiftURL",
    "hackage": "Hackage",
    "cran": "CRAN",
}
_OS_TYPES = frozenset({"deb", "apk", "rpm"})
# Names whose namespace is part of the package name in OSV records.
_SLASH_JOINED = frozenset({"npm", "golang", "composer", "swift"})


def _major(version: str) -> str | None:
    match = re.match(r"\d+", version)
    return match.group() if match else None


def _alpine(version: str) -> str | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"v{match[1]}.{match[2]}" if match else None


def _ubuntu(version: str) -> str | None:
    match = re.match(r"(\d\d)\.(\d\d)", version)
    if not match:
        return None
    # Canonical ships an LTS every April of an even year; OSV names those "22.04:LTS".
    lts = match[2] == "04" and int(match[1]) % 2 == 0
    return f"{match[1]}.{match[2]}:LTS" if lts else f"{match[1]}.{match[2]}"


def _no_release(version: str) -> str | None:
    # Red Hat's OSV ecosystems name a CPE stream ("Red Hat:enterprise_linux:9::appstream") that
    # an image does not record; rolling distributions have no release at all.
    return None


def _as_is(version: str) -> str | None:
    return version or None


# OS id (purl namespace, os-release ID or Trivy's OS family) -> OSV name and release format.
_DISTROS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "debian": ("Debian", _major),
    "ubuntu": ("Ubuntu", _ubuntu),
    "alpine": ("Alpine", _alpine),
    "rocky": ("Rocky Linux", _major),
    "almalinux": ("AlmaLinux", _major),
    "alma": ("AlmaLinux", _major),
    "redhat": ("Red Hat", _no_release),
    "rhel": ("Red Hat", _no_release),
    "photon": ("Photon OS", _as_is),
    "wolfi": ("Wolfi", _no_release),
    "chainguard": ("Chainguard", _no_release),
}


# Trivy names OS families its own way where they differ from the os-release ID.
_TRIVY_FAMILIES = {
    "redhat": "rhel",
    "alma": "almalinux",
    "amazon": "amzn",
    "oracle": "ol",
    "cbl-mariner": "mariner",
    "opensuse.leap": "opensuse-leap",
    "opensuse.tumbleweed": "opensuse-tumbleweed",
    "suse linux enterprise server": "sles",
}


def os_release_id(family: str) -> str:
    """The os-release ID for a Trivy OS family (``redhat`` -> ``rhel``)."""
    family = family.strip().lower()
    return _TRIVY_FAMILIES.get(family, family)


def distro_ecosystem(os_id: str, version: str) -> str | None:
    """``("debian", "12.4")`` -> ``Debian:12``; None for a distribution OSV does not cover."""
    entry = _DISTROS.get(os_id.strip().lower())
    if entry is None:
        return None
    name, release = entry
    suffix = release(version.strip())
    return f"{name}:{suffix}" if suffix else name


def _split_distro(purl: PackageURL) -> tuple[str, str]:
    """The ``distro`` qualifier as (id, version): Trivy writes ``debian-12.4`` but a bare
    ``3.20.1`` for Alpine, Syft ``alpine-3.20.1``; the namespace names the id when absent."""
    distro = purl.qualifier("distro") or ""
    head, sep, tail = distro.partition("-")
    if sep and head.isalpha():
        return head, tail
    return purl.namespace, distro


def ecosystem_of(purl: PackageURL) -> str | None:
    """The OSV ecosystem a purl's package belongs to, or None when OSV has none for it."""
    if purl.type in _LANGUAGES:
        return _LANGUAGES[purl.type]
    if purl.type in _OS_TYPES:
        return distro_ecosystem(*_split_distro(purl))
    return None


def osv_package_name(purl: PackageURL) -> str:
    """The package name as OSV records write it (``group:artifact`` for Maven, ...)."""
    if not purl.namespace or purl.type in _OS_TYPES:
        return purl.name
    if purl.type == "maven":
        return f"{purl.namespace}:{purl.name}"
    if purl.type in _SLASH_JOINED:
        return f"{purl.namespace}/{purl.name}"
    return purl.name
