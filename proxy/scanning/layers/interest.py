"""Which entries the analyser reads: the files package managers and language tools leave
behind, recognised by path alone (executables, recognised by content, are the walker's job)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["Kind", "classify"]


class Kind(enum.Enum):
    DPKG = "dpkg"
    APK = "apk"
    RPM_SQLITE = "rpm-sqlite"
    RPM_BDB = "rpm-bdb"
    RPM_NDB = "rpm-ndb"
    OS_RELEASE = "os-release"
    PYTHON = "python"
    NPM = "npm"
    JAVA = "java"
    GO = "go"  # assigned by the walker to executables whose first bytes are ELF or Mach-O


_EXACT: Mapping[str, Kind] = MappingProxyType(
    {
        "var/lib/dpkg/status": Kind.DPKG,
        "lib/apk/db/installed": Kind.APK,
        "usr/lib/apk/db/installed": Kind.APK,  # apk-tools 3 moves the database under /usr
        "var/lib/rpm/rpmdb.sqlite": Kind.RPM_SQLITE,
        "usr/lib/sysimage/rpm/rpmdb.sqlite": Kind.RPM_SQLITE,
        "var/lib/rpm/Packages": Kind.RPM_BDB,
        "usr/lib/sysimage/rpm/Packages": Kind.RPM_BDB,
        "var/lib/rpm/Packages.db": Kind.RPM_NDB,  # SUSE
        "usr/lib/sysimage/rpm/Packages.db": Kind.RPM_NDB,
        "etc/os-release": Kind.OS_RELEASE,
        "usr/lib/os-release": Kind.OS_RELEASE,
    }
)
_DPKG_STATUS_D = "var/lib/dpkg/status.d/"
_JAVA_SUFFIXES = (".jar", ".war", ".ear")


def classify(path: str) -> Kind | None:
    """The kind of file at normalised `path`, or None if the analyser has no use for it."""
    kind = _EXACT.get(path)
    if kind is not None:
        return kind
    if path.startswith(_DPKG_STATUS_D):
        # distroless writes one control file per package here, and a .md5sums beside each.
        name = path[len(_DPKG_STATUS_D) :]
        return Kind.DPKG if name and "/" not in name and not name.endswith(".md5sums") else None
    if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info")):
        return Kind.PYTHON
    if path.endswith("/package.json") and _is_node_package(path):
        return Kind.NPM
    if path.lower().endswith(_JAVA_SUFFIXES):
        return Kind.JAVA
    return None


def _is_node_package(path: str) -> bool:
    """`.../node_modules/NAME/package.json` or `.../node_modules/@SCOPE/NAME/package.json`:
    the manifest of an installed package, not one of the fixtures or examples it ships."""
    parts = path.split("/")
    if "node_modules" not in parts:
        return False
    last = len(parts) - 1 - parts[::-1].index("node_modules")
    package = parts[last + 1 : -1]
    if len(package) == 1:
        return not package[0].startswith((".", "@"))
    if len(package) == 2:
        return package[0].startswith("@") and not package[1].startswith(".")
    return False
