"""Python distributions from `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and distutils'
single-file `*.egg-info` (core metadata: https://packaging.python.org/specifications/core-metadata/)."""

from __future__ import annotations

import re

from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_python", "normalise_pypi_name"]

_SEPARATORS = re.compile(r"[-_.]+")


def normalise_pypi_name(name: str) -> str:
    """PEP 503: the name PyPI, pip and OSV match on (`Foo.Bar_baz` -> `foo-bar-baz`)."""
    return _SEPARATORS.sub("-", name).lower()


def extract_python(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    """One distribution. `name` keeps the spelling of the metadata (for display); the purl
    carries the normalised name, which is what matching uses."""
    headers = _headers(data.decode("utf-8", "replace"))
    name, version = headers.get("name", ""), headers.get("version", "")
    if not name or not version:
        raise ExtractionError(["core metadata without Name or Version"])
    purl = Purl(type="pypi", name=normalise_pypi_name(name), version=version)
    return (Package(name=name, version=version, ecosystem="PyPI", path=path, purl=str(purl)),)


def _headers(text: str) -> dict[str, str]:
    """The RFC 822 header block: fields up to the first blank line (the body is the long
    description, which can be large and is never needed)."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, found, value = line.partition(":")
        if found and line[0] not in " \t":
            headers.setdefault(key.strip().lower(), value.strip())
    return headers
