"""npm packages from the `package.json` of each package directory under `node_modules`."""

from __future__ import annotations

import json

from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_npm"]

_MAX_NAME = 214  # npm's own limit on package names


def extract_npm(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    """The package a manifest names. A manifest without a name or version (a workspace stub,
    a package's own test fixture) describes nothing installed and yields nothing."""
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        # RecursionError: a few thousand nested brackets exhaust the decoder's stack.
        raise ExtractionError(["not valid JSON"]) from None
    if not isinstance(manifest, dict):
        raise ExtractionError(["not a JSON object"])
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return ()
    if len(name) > _MAX_NAME or name.count("/") > (1 if name.startswith("@") else 0):
        raise ExtractionError([f"invalid package name {name[:_MAX_NAME]!r}"])
    scope, _, bare = name.rpartition("/")
    purl = Purl(type="npm", namespace=scope, name=bare, version=version)
    return (Package(name=name, version=version, ecosystem="npm", path=path, purl=str(purl)),)
