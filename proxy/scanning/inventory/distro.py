"""Stamping operating-system packages with the release they belong to.

A layer that runs `apt-get install` rewrites the dpkg status file but not os-release, so the
layer's own analysis may not know the release; and a later layer may upgrade the release.
OS packages are therefore stamped twice: with the layer's os-release when it has one, and
again, when the inventory is built, with the image's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["FAMILIES", "os_package", "package_ecosystem", "restamp"]

# purl type -> the ecosystem family used when the release is unknown.
FAMILIES: Mapping[str, str] = MappingProxyType({"deb": "Debian", "apk": "Alpine", "rpm": "Red Hat"})
_NAMESPACES: Mapping[str, str] = MappingProxyType({"deb": "debian", "apk": "alpine", "rpm": "redhat"})


def package_ecosystem(os: OperatingSystem | None, purl_type: str) -> str:
    """The ecosystem an OS package gets: OSV's name for the release when there is one; the
    os-release ID and version when OSV has none (so no other distribution's advisories match);
    the bare family name when the image has no os-release."""
    if os is None:
        return FAMILIES[purl_type]
    if os.ecosystem:
        return os.ecosystem
    return f"{os.id}:{os.version_id}" if os.version_id else os.id


def os_package(
    *,
    purl_type: str,
    name: str,
    version: str,
    purl_version: str,
    arch: str,
    os: OperatingSystem | None,
    path: str,
    source_name: str | None = None,
    source_version: str | None = None,
    extra_qualifiers: tuple[tuple[str, str], ...] = (),
) -> Package:
    purl = Purl(
        type=purl_type,
        namespace=_NAMESPACES[purl_type],
        name=name,
        version=purl_version,
        qualifiers=(("arch", arch), *extra_qualifiers),
    )
    return restamp(
        Package(
            name=name,
            version=version,
            ecosystem=FAMILIES[purl_type],
            source_name=source_name,
            source_version=source_version,
            path=path,
            purl=str(purl),
        ),
        os,
    )


def restamp(package: Package, os: OperatingSystem | None) -> Package:
    """`package` with the ecosystem and purl distro of `os` if it is an OS package (deb, apk or
    rpm purl); any other package unchanged."""
    purl = Purl.parse(package.purl or "")
    if purl is None or purl.type not in FAMILIES:
        return package
    if os is None:
        purl = replace(purl, namespace=_NAMESPACES[purl.type]).with_qualifier("distro", None)
    else:
        distro = f"{os.id}-{os.version_id}" if os.version_id else os.id
        purl = replace(purl, namespace=os.id).with_qualifier("distro", distro)
    return replace(package, ecosystem=package_ecosystem(os, purl.type), purl=str(purl))
