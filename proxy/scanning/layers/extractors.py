"""Which extractor reads which kind of file, with this analysis's limits applied."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from types import MappingProxyType

from proxy.scanning.inventory import (
    Extractor,
    extract_apk,
    extract_dpkg,
    extract_go,
    extract_maven,
    extract_npm,
    extract_python,
    extract_rpm_bdb,
    extract_rpm_sqlite,
)
from proxy.scanning.layers.interest import Kind
from proxy.scanning.layers.limits import Limits

__all__ = ["UNSUPPORTED", "extractor_for"]

# Kinds recognised but not read, and what the problem report says about them.
UNSUPPORTED: Mapping[Kind, str] = MappingProxyType({Kind.RPM_NDB: "NDB rpmdb (SUSE) not supported"})

_PLAIN: Mapping[Kind, Extractor] = MappingProxyType(
    {
        Kind.DPKG: extract_dpkg,
        Kind.APK: extract_apk,
        Kind.RPM_SQLITE: extract_rpm_sqlite,
        Kind.RPM_BDB: extract_rpm_bdb,
        Kind.PYTHON: extract_python,
        Kind.NPM: extract_npm,
        Kind.GO: extract_go,
    }
)


def extractor_for(kind: Kind, limits: Limits) -> Extractor | None:
    if kind is Kind.JAVA:
        return partial(
            extract_maven,
            max_depth=limits.max_archive_depth,
            max_nested_bytes=limits.max_archive_bytes,
            max_entries=limits.max_archive_entries,
        )
    return _PLAIN.get(kind)
