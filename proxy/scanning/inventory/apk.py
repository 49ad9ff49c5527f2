"""Alpine (and Wolfi, Chainguard) packages from apk's installed database, `lib/apk/db/installed`:
paragraphs of `X:value` lines (https://wiki.alpinelinux.org/wiki/Apk_spec)."""

from __future__ import annotations

from proxy.scanning.inventory.deb822 import paragraphs
from proxy.scanning.inventory.distro import os_package
from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_apk"]


def extract_apk(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    """P: name, V: version, A: architecture, o: origin (the source package advisories name)."""
    packages: list[Package] = []
    problems: list[str] = []
    for number, fields in enumerate(paragraphs(data.decode("utf-8", "replace"), fold_case=False), start=1):
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            problems.append(f"record {number} has no P (name) or V (version)")
            continue
        packages.append(
            os_package(
                purl_type="apk",
                name=name,
                version=version,
                purl_version=version,
                arch=fields.get("A", ""),
                os=os,
                path=path,
                source_name=fields.get("o") or None,
            )
        )
    if problems:
        raise ExtractionError(problems, packages)
    return tuple(packages)
