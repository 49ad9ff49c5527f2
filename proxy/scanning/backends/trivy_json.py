"""Trivy's JSON report (``trivy image --format json``, SchemaVersion 2) read into findings.

The shape is Trivy's ``types.Report`` as documented in
https://trivy.dev/latest/docs/configuration/reporting/#json and pinned by Trivy's own golden
files (``integration/testdata/*.json.golden``): ``Metadata.OS {Family, Name}`` and
``Results[] {Class, Type, Vulnerabilities[], Packages[]}``; ``Packages`` only with
``--list-all-pkgs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.scanning.backends._document import (
    Malformed,
    as_list,
    as_object,
    as_text,
    load_json,
    optional_number,
    summary,
)
from proxy.scanning.backends.purl import (
    PackageURL,
    distro_ecosystem,
    ecosystem_of,
    os_release_id,
    osv_package_name,
)
from proxy.scanning.model import Finding, Inventory, OperatingSystem, Package, Severity

__all__ = ["TrivyJsonReport", "parse_json_report"]

_PACKAGE_CLASSES = frozenset({"os-pkgs", "lang-pkgs"})
# Result.Type (Trivy's analyzer type) -> OSV ecosystem, for entries without a purl.
_LANGUAGE_TYPES = {
    **dict.fromkeys(("pip", "pipenv", "poetry", "uv", "python-pkg"), "PyPI"),
    **dict.fromkeys(("npm", "yarn", "pnpm", "bun", "node-pkg"), "npm"),
    **dict.fromkeys(("gomod", "gobinary"), "Go"),
    **dict.fromkeys(("jar", "pom", "gradle", "sbt"), "Maven"),
    **dict.fromkeys(("cargo", "rustbinary"), "crates.io"),
    **dict.fromkeys(("bundler", "gemspec"), "RubyGems"),
    **dict.fromkeys(("composer", "composer-vendor"), "Packagist"),
    **dict.fromkeys(("nuget", "dotnet-core", "packages-props"), "NuGet"),
    "pub": "Pub",
    "hex": "Hex",
    "conan": "ConanCenter",
    "swift": "SwiftURL",
}
_TEXT_FIELDS = ("Version", "Release", "SrcName", "SrcVersion", "SrcRelease", "FilePath")
_CVSS_VERSIONS = (("V3Score", "V3Vector"), ("V40Score", "V40Vector"), ("V2Score", "V2Vector"))


@dataclass(frozen=True, slots=True)
class TrivyJsonReport:
    findings: tuple[Finding, ...]
    inventory: Inventory | None  # None unless asked for (--list-all-pkgs)


def parse_json_report(raw: bytes, *, with_inventory: bool) -> TrivyJsonReport:
    """Raises `Malformed` when the document is not a Trivy report of the expected shape."""
    report = as_object(load_json(raw, "the Trivy JSON report"), "the Trivy JSON report")
    if report.get("SchemaVersion") != 2:
        raise Malformed(f"SchemaVersion {report.get('SchemaVersion')!r} is not 2")
    operating_system = _operating_system(as_object(report.get("Metadata") or {}, "Metadata"))
    findings: list[Finding] = []
    packages: list[Package] = []
    for index, item in enumerate(as_list(report.get("Results"), "Results")):
        where = f"Results[{index}]"
        result = as_object(item, where)
        if as_text(result.get("Class"), f"{where}.Class") not in _PACKAGE_CLASSES:
            continue  # secrets, misconfigurations, licences: not package findings
        fallback = _result_ecosystem(result, where, operating_system)
        for vindex, vuln in enumerate(as_list(result.get("Vulnerabilities"), f"{where}.Vulnerabilities")):
            findings.append(_finding(as_object(vuln, f"{where}.Vulnerabilities[{vindex}]"), fallback))
        if with_inventory:
            for pindex, pkg in enumerate(as_list(result.get("Packages"), f"{where}.Packages")):
                packages.append(_package(as_object(pkg, f"{where}.Packages[{pindex}]"), fallback))
    inventory = Inventory(operating_system, tuple(dict.fromkeys(packages))) if with_inventory else None
    return TrivyJsonReport(tuple(findings), inventory)


def _operating_system(metadata: dict[str, Any]) -> OperatingSystem | None:
    os_info = as_object(metadata.get("OS") or {}, "Metadata.OS")
    family = as_text(os_info.get("Family"), "Metadata.OS.Family").strip().lower()
    version = as_text(os_info.get("Name"), "Metadata.OS.Name").strip()
    if not family:
        return None
    return OperatingSystem(
        id=os_release_id(family), version_id=version, ecosystem=distro_ecosystem(family, version)
    )


def _result_ecosystem(result: dict[str, Any], where: str, operating_system: OperatingSystem | None) -> str:
    if result.get("Class") == "os-pkgs":
        return (operating_system.ecosystem or "") if operating_system is not None else ""
    return _LANGUAGE_TYPES.get(as_text(result.get("Type"), f"{where}.Type"), "")


def _identity(entry: dict[str, Any], where: str, name: str, fallback: str) -> tuple[str, str, str | None]:
    """(package name, ecosystem, purl): from the purl when Trivy gave one, else the result's."""
    identifier = as_object(entry.get("PkgIdentifier") or entry.get("Identifier") or {}, f"{where}.Identifier")
    purl_text = as_text(identifier.get("PURL"), f"{where}.Identifier.PURL") or None
    if purl_text:
        try:
            purl = PackageURL.parse(purl_text)
        except ValueError as error:
            raise Malformed(f"{where}: {error}") from None
        return osv_package_name(purl), ecosystem_of(purl) or fallback, purl_text
    return name, fallback, None


def _finding(vuln: dict[str, Any], fallback: str) -> Finding:
    where = f"vulnerability {vuln.get('VulnerabilityID')!r}"
    vuln_id = as_text(vuln.get("VulnerabilityID"), f"{where}.VulnerabilityID")
    name = as_text(vuln.get("PkgName"), f"{where}.PkgName")
    if not vuln_id or not name:
        raise Malformed(f"{where} has no VulnerabilityID or PkgName")
    package, ecosystem, _ = _identity(vuln, where, name, fallback)
    score, vector = _cvss(vuln, where)
    layer = as_object(vuln.get("Layer") or {}, f"{where}.Layer")
    return Finding(
        vulnerability=vuln_id,
        aliases=tuple(as_text(v, f"{where}.VendorIDs") for v in as_list(vuln.get("VendorIDs"), where)),
        package=package,
        installed_version=as_text(vuln.get("InstalledVersion"), f"{where}.InstalledVersion"),
        ecosystem=ecosystem,
        # Kept as Trivy wrote it: for libraries it may list one fix per branch ("1.2.4, 2.0.1").
        fixed_version=as_text(vuln.get("FixedVersion"), f"{where}.FixedVersion").strip() or None,
        severity=Severity.parse(as_text(vuln.get("Severity"), f"{where}.Severity", "UNKNOWN")),
        cvss_score=score,
        cvss_vector=vector,
        summary=summary(
            as_text(vuln.get("Title"), f"{where}.Title"),
            as_text(vuln.get("Description"), f"{where}.Description"),
        ),
        layer=as_text(layer.get("Digest"), f"{where}.Layer.Digest") or None,
        path=as_text(vuln.get("PkgPath"), f"{where}.PkgPath"),
    )


def _cvss(vuln: dict[str, Any], where: str) -> tuple[float | None, str | None]:
    """The score of the source Trivy took the severity from, then NVD, then any other;
    CVSS v3 before v4 before v2, as most policies and Harbor's preferred_cvss are written."""
    sources = as_object(vuln.get("CVSS") or {}, f"{where}.CVSS")
    preferred = as_text(vuln.get("SeveritySource"), f"{where}.SeveritySource")
    order = [preferred, "nvd", *sorted(sources)]
    for score_key, vector_key in _CVSS_VERSIONS:
        for source in order:
            entry = as_object(sources.get(source) or {}, f"{where}.CVSS.{source}")
            score = optional_number(entry.get(score_key), f"{where}.CVSS.{source}.{score_key}")
            if score:
                return score, as_text(entry.get(vector_key), f"{where}.CVSS.{source}.{vector_key}") or None
    return None, None


def _evr(epoch: Any, version: str, release: str, where: str) -> str:
    """dpkg/rpm ``epoch:version-release`` from Trivy's split fields."""
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)):
        raise Malformed(f"{where} epoch is not an integer")
    prefix = f"{epoch}:" if epoch else ""
    return prefix + version + (f"-{release}" if release else "")


def _package(entry: dict[str, Any], fallback: str) -> Package:
    where = f"package {entry.get('Name')!r}"
    name = as_text(entry.get("Name"), f"{where}.Name")
    if not name:
        raise Malformed(f"{where} has no Name")
    package, ecosystem, purl = _identity(entry, where, name, fallback)
    text = {key: as_text(entry.get(key), f"{where}.{key}") for key in _TEXT_FIELDS}
    version = _evr(entry.get("Epoch"), text["Version"], text["Release"], where)
    source_version = (
        _evr(entry.get("SrcEpoch"), text["SrcVersion"], text["SrcRelease"], where)
        if text["SrcVersion"]
        else None
    )
    layer = as_object(entry.get("Layer") or {}, f"{where}.Layer")
    return Package(
        name=package,
        version=version,
        ecosystem=ecosystem,
        source_name=text["SrcName"] or None,
        source_version=source_version if source_version != version else None,
        path=text["FilePath"],
        layer=as_text(layer.get("Digest"), f"{where}.Layer.Digest") or None,
        purl=purl,
    )
