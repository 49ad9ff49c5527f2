"""An image's inventory as a CycloneDX 1.5 SBOM (https://cyclonedx.org/docs/1.5/json/).

The document is a pure function of its inputs: the serial number is derived from the image
digest (the same image always gets the same one), components keep the inventory's order, and
the only time in it is the `created` the caller passes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import Inventory, Package

__all__ = ["to_cyclonedx"]

# uuid5 namespace for serial numbers: uuid5(NAMESPACE_URL, "https://pullgate/cyclonedx").
_SERIALS = uuid.uuid5(uuid.NAMESPACE_URL, "https://pullgate/cyclonedx")
_PROPERTY = "pullgate:"


def to_cyclonedx(inventory: Inventory, *, image: str, digest: str, created: datetime) -> dict[str, Any]:
    """`image` is the reference as pulled (`docker.io/library/debian:12`), `digest` the
    manifest digest. `created` must carry a time zone."""
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    components: list[dict[str, Any]] = []
    if inventory.os is not None:
        components.append(
            {
                "type": "operating-system",
                "bom-ref": f"os:{inventory.os.id}@{inventory.os.version_id}",
                "name": inventory.os.id,
                "version": inventory.os.version_id,
                "description": inventory.os.pretty_name,
            }
        )
    refs: set[str] = set()
    components.extend(_component(package, refs) for package in inventory.packages)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(_SERIALS, digest)}",
        "version": 1,
        "metadata": {
            "timestamp": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "pullgate"}]},
            "component": _image(image, digest),
            "properties": [_property("problem", problem) for problem in inventory.problems],
        },
        "components": components,
    }


def _image(image: str, digest: str) -> dict[str, Any]:
    repository = image.split("@", 1)[0]
    name_part = repository.rsplit("/", 1)[-1]
    if ":" in name_part:  # a tag, not a registry port: ports only come before a '/'
        repository = repository.rsplit(":", 1)[0]
    purl = Purl(
        type="oci",
        name=repository.rsplit("/", 1)[-1].lower(),
        version=digest,
        qualifiers=(("repository_url", repository),),
    )
    return {"type": "container", "bom-ref": digest, "name": image, "version": digest, "purl": str(purl)}


def _component(package: Package, refs: set[str]) -> dict[str, Any]:
    ref = f"{package.purl or f'{package.ecosystem}/{package.name}@{package.version}'}|{package.path}"
    unique, count = ref, 1
    while unique in refs:  # the same package listed twice in one file (a shaded jar)
        count += 1
        unique = f"{ref}#{count}"
    refs.add(unique)
    properties = [_property("ecosystem", package.ecosystem), _property("path", package.path)]
    if package.layer:
        properties.append(_property("layer", package.layer))
    if package.source_name:
        properties.append(_property("source_name", package.source_name))
    if package.source_version:
        properties.append(_property("source_version", package.source_version))
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": unique,
        "name": package.name,
        "version": package.version,
    }
    if package.purl:
        component["purl"] = package.purl
    component["properties"] = properties
    return component


def _property(name: str, value: str) -> dict[str, str]:
    return {"name": _PROPERTY + name, "value": value}
