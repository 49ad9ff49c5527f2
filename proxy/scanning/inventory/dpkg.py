"""Debian packages from `var/lib/dpkg/status` and distroless's `var/lib/dpkg/status.d/*`."""

from __future__ import annotations

from proxy.scanning.inventory.deb822 import paragraphs
from proxy.scanning.inventory.distro import os_package
from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_dpkg"]

_STATUS_D = "var/lib/dpkg/status.d/"


def extract_dpkg(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    """Every installed package: a Status whose third word is "installed", whatever the wanted
    state (`hold ok installed` and `deinstall ok installed` packages are on disk too).
    distroless's per-package files carry no Status; every package in them is installed."""
    packages: list[Package] = []
    problems: list[str] = []
    per_package_file = path.startswith(_STATUS_D)
    for number, fields in enumerate(paragraphs(data.decode("utf-8", "replace")), start=1):
        status = fields.get("status", "").split()
        installed = status[2:3] == ["installed"] or (per_package_file and not status)
        if not installed:
            continue
        name, version = fields.get("package", ""), fields.get("version", "")
        if not name or not version:
            problems.append(f"paragraph {number} of an installed package has no Package or Version")
            continue
        source_name, source_version = _source(fields.get("source", ""))
        packages.append(
            os_package(
                purl_type="deb",
                name=name,
                version=version,
                purl_version=version,
                arch=fields.get("architecture", ""),
                os=os,
                path=path,
                source_name=source_name,
                source_version=source_version if source_version != version else None,
            )
        )
    if problems:
        raise ExtractionError(problems, packages)
    return tuple(packages)


def _source(field: str) -> tuple[str | None, str | None]:
    """`Source: glibc (2.36-9+deb12u4)` -> ("glibc", "2.36-9+deb12u4"); `Source: glibc` ->
    ("glibc", None); no Source -> (None, None): the source package has the binary's name."""
    name, _, rest = field.partition(" ")
    version = rest.strip().removeprefix("(").removesuffix(")").strip()
    return (name or None), (version or None)
