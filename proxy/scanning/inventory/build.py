"""The image's inventory: the layers' analyses stacked as an overlay filesystem stacks them.

For each layer, bottom to top (OCI image spec, "Applying changesets"):
  1. its whiteouts delete paths (and everything under them) from the layers below, and its
     opaque directories hide everything the layers below have in them;
  2. then its files of interest replace whatever the layers below had at the same path.
The operating system is the one named by the os-release file left standing at the end
(`etc/os-release` over `usr/lib/os-release`, as os-release(5) says), and every OS package is
stamped with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from proxy.scanning.inventory.distro import restamp
from proxy.scanning.model import Inventory, LayerAnalysis, OperatingSystem, Package

__all__ = ["build_inventory"]

_OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
_T = TypeVar("_T")


@dataclass(slots=True)
class _File:
    packages: tuple[Package, ...]
    # (name, version) -> the layer it has been at this path since, without interruption.
    since: dict[tuple[str, str], str]


def build_inventory(analyses: Sequence[LayerAnalysis]) -> Inventory:
    """`analyses` in manifest order, base layer first."""
    files: dict[str, _File] = {}
    releases: dict[str, OperatingSystem] = {}
    problems: list[str] = []
    for analysis in analyses:
        _delete(files, analysis)
        _delete(releases, analysis)
        for path, packages in analysis.files.items():
            files[path] = _replacement(files.get(path), packages, analysis.digest)
            releases.pop(path, None)
        if analysis.os is not None and analysis.os_path is not None:
            releases[analysis.os_path] = analysis.os
        problems.extend(f"layer {analysis.digest}: {problem}" for problem in analysis.problems)
    os = next((releases[path] for path in _OS_RELEASE_PATHS if path in releases), None)
    found = [
        restamp(replace(package, layer=file.since.get((package.name, package.version))), os)
        for file in files.values()
        for package in file.packages
    ]
    if os is None and any(_is_os_package(package) for package in found):
        problems.append("no os-release: operating-system packages carry no release")
    elif os is not None and os.ecosystem is None:
        problems.append(f"no OSV ecosystem for {os.id} {os.version_id}: its packages match no advisories")
    found.sort(key=lambda package: (package.ecosystem, package.name, package.version, package.path))
    return Inventory(os=os, packages=tuple(found), problems=tuple(problems))


def _is_os_package(package: Package) -> bool:
    return (package.purl or "").startswith(("pkg:deb/", "pkg:apk/", "pkg:rpm/"))


def _delete(entries: dict[str, _T], analysis: LayerAnalysis) -> None:
    if not analysis.whiteouts and not analysis.opaque_dirs:
        return
    whiteouts, opaque = frozenset(analysis.whiteouts), frozenset(analysis.opaque_dirs)
    for path in [path for path in entries if _deleted(path, whiteouts, opaque)]:
        del entries[path]


def _deleted(path: str, whiteouts: frozenset[str], opaque: frozenset[str]) -> bool:
    """Whether `path` or one of its ancestors is whited out, or one of its ancestors (the root,
    "", included) is opaque. One set lookup per ancestor: images carry thousands of both."""
    if "" in opaque:
        return True
    prefix = ""
    for part in path.split("/"):
        prefix = f"{prefix}/{part}" if prefix else part
        if prefix in whiteouts or (prefix != path and prefix in opaque):
            return True
    return False


def _replacement(previous: _File | None, packages: tuple[Package, ...], digest: str) -> _File:
    """A file replacing `previous` at the same path: a package it still lists keeps the layer it
    came from (a dpkg status file is rewritten whole by every apt-get install)."""
    earlier = previous.since if previous is not None else {}
    since = {(p.name, p.version): earlier.get((p.name, p.version), digest) for p in packages}
    return _File(packages, since)
