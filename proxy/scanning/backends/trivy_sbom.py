"""Trivy's CycloneDX SBOM (``trivy image --format cyclonedx``) read into an `Inventory`.

This is the mode that needs no Trivy database: Trivy only lists what is installed, and
pullgate matches the inventory against its own OSV data. The shape read here is CycloneDX
1.5-1.7 as Trivy writes it (https://trivy.dev/latest/docs/supply-chain/sbom/): an
``operating-system`` component (name = OS family, version = release), ``library``
components with a ``purl`` and ``aquasecurity:trivy:*`` properties (LayerDigest, FilePath,
SrcName, SrcVersion, SrcRelease, SrcEpoch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from proxy.scanning.backends._document import Malformed, as_list, as_object, as_text, load_json
from proxy.scanning.backends.purl import (
    PackageURL,
    distro_ecosystem,
    ecosystem_of,
    os_release_id,
    osv_package_name,
)
from proxy.scanning.model import Inventory, OperatingSystem, Package

__all__ = ["parse_cyclonedx"]

_PROPERTY = "aquasecurity:trivy:"
_OS_TYPES = frozenset({"deb", "apk", "rpm"})
_MAX_DEPTH = 32  # CycloneDX nests components; Trivy uses 1-2 levels
_MAX_COMPONENTS = 500_000
_NAMES_QUOTED = 5


def parse_cyclonedx(raw: bytes) -> Inventory:
    """Raises `Malformed` when the document is not a CycloneDX BOM of the expected shape."""
    bom = as_object(load_json(raw, "the CycloneDX SBOM"), "the CycloneDX SBOM")
    if bom.get("bomFormat") != "CycloneDX":
        raise Malformed("the SBOM's bomFormat is not 'CycloneDX'")
    components = list(_walk(as_list(bom.get("components"), "components"), "components", 0))
    operating_system = _operating_system(components)
    packages: list[Package] = []
    unidentified: list[str] = []
    unmapped: Counter[str] = Counter()
    for where, component in components:
        purl_text = as_text(component.get("purl"), f"{where}.purl")
        name = as_text(component.get("name"), f"{where}.name")
        if not purl_text:
            if component.get("type") == "library":
                unidentified.append(name or where)
            continue
        package = _package(
            component,
            purl_text=purl_text,
            where=where,
            operating_system=operating_system,
            unmapped=unmapped,
            unidentified=unidentified,
        )
        if package is not None:
            packages.append(package)
    problems = _problems(unidentified, unmapped)
    return Inventory(os=operating_system, packages=tuple(dict.fromkeys(packages)), problems=problems)


def _walk(items: list[Any], where: str, depth: int) -> Iterator[tuple[str, dict[str, Any]]]:
    if depth > _MAX_DEPTH:
        raise Malformed(f"{where} nests deeper than {_MAX_DEPTH} levels")
    if len(items) > _MAX_COMPONENTS:
        raise Malformed(f"{where} lists more than {_MAX_COMPONENTS} components")
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        component = as_object(item, here)
        yield here, component
        yield from _walk(as_list(component.get("components"), f"{here}.components"), here, depth + 1)


def _properties(component: dict[str, Any], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, item in enumerate(as_list(component.get("properties"), f"{where}.properties")):
        entry = as_object(item, f"{where}.properties[{index}]")
        name = as_text(entry.get("name"), f"{where}.properties[{index}].name")
        if name.startswith(_PROPERTY):
            found.setdefault(name.removeprefix(_PROPERTY), as_text(entry.get("value"), name))
    return found


def _operating_system(components: list[tuple[str, dict[str, Any]]]) -> OperatingSystem | None:
    for where, component in components:
        if component.get("type") != "operating-system":
            continue
        family = as_text(component.get("name"), f"{where}.name").strip().lower()
        version = as_text(component.get("version"), f"{where}.version").strip()
        if family and family != "none":  # Trivy's placeholder when it recognised no OS
            return OperatingSystem(
                id=os_release_id(family), version_id=version, ecosystem=distro_ecosystem(family, version)
            )
    return None


def _package(
    component: dict[str, Any],
    *,
    purl_text: str,
    where: str,
    operating_system: OperatingSystem | None,
    unmapped: Counter[str],
    unidentified: list[str],
) -> Package | None:
    try:
        purl = PackageURL.parse(purl_text)
    except ValueError:
        unidentified.append(purl_text[:200])
        return None
    if purl.type == "oci":  # the image itself
        return None
    ecosystem = _ecosystem(purl, operating_system)
    if ecosystem is None:
        unmapped[f"pkg:{purl.type}/{purl.namespace}".rstrip("/")] += 1
        return None
    properties = _properties(component, where)
    version = as_text(component.get("version"), f"{where}.version") or _purl_version(purl)
    source_name, source_version = _source(purl, properties)
    return Package(
        name=osv_package_name(purl),
        version=version,
        ecosystem=ecosystem,
        source_name=source_name,
        source_version=source_version if source_version and source_version != version else None,
        path=properties.get("FilePath", ""),
        layer=properties.get("LayerDigest") or None,
        purl=purl_text,
    )


def _ecosystem(purl: PackageURL, operating_system: OperatingSystem | None) -> str | None:
    # An OS package without a distro qualifier belongs to the image's OS, when Trivy found one.
    if purl.type in _OS_TYPES and purl.qualifier("distro") is None and operating_system is not None:
        return operating_system.ecosystem
    return ecosystem_of(purl)


def _purl_version(purl: PackageURL) -> str:
    epoch = purl.qualifier("epoch")
    return f"{epoch}:{purl.version}" if epoch and epoch != "0" and purl.version else purl.version


def _source(purl: PackageURL, properties: dict[str, str]) -> tuple[str | None, str | None]:
    """Source package name and version: the purl ``upstream`` qualifier (``name`` or
    ``name@version``, as Syft writes it), else Trivy's SrcName/SrcEpoch/SrcVersion/SrcRelease."""
    upstream = purl.qualifier("upstream")
    if upstream:
        upstream_name, _, upstream_version = upstream.partition("@")
        return upstream_name.strip() or None, upstream_version.strip() or None
    name = properties.get("SrcName") or None
    version = properties.get("SrcVersion", "")
    if not version:
        return name, None
    epoch, release = properties.get("SrcEpoch", ""), properties.get("SrcRelease", "")
    full = (f"{epoch}:" if epoch and epoch != "0" else "") + version + (f"-{release}" if release else "")
    return name, full


def _problems(unidentified: list[str], unmapped: Counter[str]) -> tuple[str, ...]:
    problems = []
    if unidentified:
        names = ", ".join(unidentified[:_NAMES_QUOTED]) + (
            ", ..." if len(unidentified) > _NAMES_QUOTED else ""
        )
        problems.append(f"{len(unidentified)} components without a usable package URL were left out: {names}")
    for kind, count in sorted(unmapped.items()):
        problems.append(f"{count} packages of {kind} were left out: OSV has no ecosystem for them")
    return tuple(problems)
