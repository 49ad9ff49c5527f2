"""Package inventories: one extractor per package format, each a pure function of a file's
path, bytes and the operating system, and `build_inventory`, which stacks layer analyses.

An extractor returns the packages a file lists, () for a file that lists none, and raises
`ExtractionError` (carrying whatever it could still read) for malformed input; nothing else
for any input.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.scanning.inventory.apk import extract_apk
from proxy.scanning.inventory.build import build_inventory
from proxy.scanning.inventory.dpkg import extract_dpkg
from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.golang import extract_go
from proxy.scanning.inventory.maven import extract_maven
from proxy.scanning.inventory.npm import extract_npm
from proxy.scanning.inventory.osrelease import osv_ecosystem, parse_os_release
from proxy.scanning.inventory.python import extract_python, normalise_pypi_name
from proxy.scanning.inventory.rpm import extract_rpm_bdb, extract_rpm_sqlite
from proxy.scanning.model import OperatingSystem, Package

__all__ = [
    "ExtractionError",
    "Extractor",
    "build_inventory",
    "extract_apk",
    "extract_dpkg",
    "extract_go",
    "extract_maven",
    "extract_npm",
    "extract_python",
    "extract_rpm_bdb",
    "extract_rpm_sqlite",
    "normalise_pypi_name",
    "osv_ecosystem",
    "parse_os_release",
]

Extractor = Callable[[str, bytes, OperatingSystem | None], tuple[Package, ...]]
