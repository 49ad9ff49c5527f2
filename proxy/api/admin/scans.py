"""Scans and vulnerabilities: a digest's scan status and report, a rescan on demand, the
images a vulnerability affects, an image's inventory as CycloneDX, the database's state."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from proxy.api.admin.auth import actor
from proxy.api.admin.decisions import split_image
from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, json_body, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import View
from proxy.api.context import SERVICES
from proxy.gate.admin import ScanRow
from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.errors import RegistryError
from proxy.scanning.model import Finding

__all__ = ["OPERATIONS", "FindingView", "digest_of", "finding_view"]


class FindingView(View):
    vulnerability: str
    aliases: list[str]
    package: str
    installed_version: str
    ecosystem: str
    fixed_version: str | None
    severity: str
    cvss_score: float | None
    summary: str
    layer: str | None


class ScanView(View):
    id: int
    scanner: str
    db_version: str
    status: str = Field(description="queued, running, done or failed")
    requested_at: AwareDatetime
    finished_at: AwareDatetime | None
    error: str | None
    findings: list[FindingView] | None = Field(description="null unless done")
    packages: int | None = Field(description="packages in the inventory; null without one")
    os: str | None
    problems: list[str]


class ScanStatusView(View):
    digest: str
    db_version: str = Field(description="the vulnerability database version in force")
    current: bool = Field(description="the newest finished scan used that version")
    latest: ScanView | None
    history: list[ScanView]


class RescanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(
        min_length=1, max_length=512, description="where the digest is pulled from: registry/repo"
    )


class RescanView(View):
    digest: str
    result: str = Field(description="queued (a full scan), rematched (new database) or re-decided")


class AffectedView(View):
    digest: str
    scanner: str
    package: str
    installed_version: str
    severity: str
    fixed_version: str | None
    scanned_at: AwareDatetime | None


class AffectedListView(View):
    vulnerability: str
    items: list[AffectedView]


class VulnDbView(View):
    version: int
    records: int
    updated_at: AwareDatetime | None
    source: str | None


def digest_of(request: web.Request) -> Digest:
    """The `{digest}` of the path, parsed (422 naming `digest` if it is not one)."""
    try:
        return Digest.parse(request.match_info["digest"])
    except InvalidDigestError as exc:
        raise ApiError(Code.INVALID_FIELD, f"digest: {exc}", field="digest") from exc


def finding_view(finding: Finding) -> FindingView:
    return FindingView(
        vulnerability=finding.vulnerability,
        aliases=list(finding.aliases),
        package=finding.package,
        installed_version=finding.installed_version,
        ecosystem=finding.ecosystem,
        fixed_version=finding.fixed_version,
        severity=finding.severity.name.lower(),
        cvss_score=finding.cvss_score,
        summary=finding.summary,
        layer=finding.layer,
    )


def _scan(row: ScanRow) -> ScanView:
    report = row.report
    findings = [finding_view(f) for f in report.findings] if report is not None else None
    inventory = report.inventory if report is not None else None
    return ScanView(
        id=row.id,
        scanner=row.scanner,
        db_version=row.db_version,
        status=row.status,
        requested_at=row.requested_at,
        finished_at=row.finished_at,
        error=row.error,
        findings=findings,
        packages=len(inventory.packages) if inventory is not None else None,
        os=(inventory.os.pretty_name or inventory.os.id) if inventory is not None and inventory.os else None,
        problems=list(report.problems) if report is not None else [],
    )


async def scan_status(request: web.Request) -> web.Response:
    status = await admin(request).scans.status(digest_of(request))
    return reply(
        ScanStatusView(
            digest=status.digest,
            db_version=status.db_version,
            current=status.current,
            latest=_scan(status.latest) if status.latest else None,
            history=[_scan(r) for r in status.history],
        )
    )


async def rescan(request: web.Request) -> web.Response:
    digest = digest_of(request)
    body = await json_body(request, RescanBody)
    registry, repository, _ = split_image(body.image)
    try:
        target = request.app[SERVICES].router.route(f"{repository}/manifests/{digest}", registry)
    except RegistryError as exc:
        raise ApiError(Code.INVALID_FIELD, f"image: {exc.message}", field="image") from exc
    result = await admin(request).scans.rescan(actor(request), target.key, digest)
    return reply(RescanView(digest=str(digest), result=result), 202)


async def affected(request: web.Request) -> web.Response:
    name = request.match_info["id"]
    rows = await admin(request).scans.affected(name)
    items = [
        AffectedView(
            digest=r.digest,
            scanner=r.scanner,
            package=r.package,
            installed_version=r.installed_version,
            severity=r.severity.name.lower(),
            fixed_version=r.fixed_version,
            scanned_at=r.scanned_at,
        )
        for r in rows
    ]
    return reply(AffectedListView(vulnerability=name, items=items))


async def sbom(request: web.Request) -> web.Response:
    document: dict[str, Any] = await admin(request).scans.sbom(digest_of(request))
    return web.json_response(document, content_type="application/vnd.cyclonedx+json")


async def vulndb(request: web.Request) -> web.Response:
    state = await admin(request).scans.vulndb()
    return reply(
        VulnDbView(
            version=state.version, records=state.records, updated_at=state.updated_at, source=state.source
        )
    )


_DIGEST = "{digest:[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+}"
OPERATIONS = (
    Operation(
        "GET",
        f"/scans/{_DIGEST}",
        scan_status,
        "Scan status and report of a manifest digest",
        "scans",
        {200: Reply("the newest scans and their findings", ScanStatusView)},
        errors=(404, 409),
    ),
    Operation(
        "POST",
        f"/scans/{_DIGEST}/rescan",
        rescan,
        "Scan again, or re-match the stored inventory against the database in force",
        "scans",
        {202: Reply("what was started", RescanView)},
        body=RescanBody,
        errors=(404, 409),
    ),
    Operation(
        "GET",
        "/vulnerabilities/{id:[A-Za-z0-9][A-Za-z0-9._:-]{0,127}}/images",
        affected,
        "Images whose newest scan lists this vulnerability (by id or alias)",
        "scans",
        {200: Reply("affected images", AffectedListView)},
    ),
    Operation(
        "GET",
        f"/images/{_DIGEST}/sbom",
        sbom,
        "The image's package inventory as CycloneDX 1.5 JSON",
        "scans",
        {200: Reply("a CycloneDX document")},
        errors=(404,),
    ),
    Operation(
        "GET",
        "/vulndb",
        vulndb,
        "The vulnerability database: version, record count, last import",
        "scans",
        {200: Reply("its state", VulnDbView)},
        errors=(409,),
    ),
)
