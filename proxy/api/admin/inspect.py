"""One image in detail: its parts (config, layers, platforms), its signatures and signers
(checked now, recording nothing), its vulnerabilities with the exceptions that waive them."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from proxy.api.admin.http import admin, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.scans import FindingView, digest_of, finding_view
from proxy.api.admin.views import ReasonView, View
from proxy.gate.admin import Contents, Part, Platformed, SignatureState

__all__ = ["OPERATIONS"]


class PartView(View):
    digest: str
    media_type: str
    size: int


class PlatformedView(View):
    digest: str
    media_type: str
    size: int
    platform: str | None = Field(description="os/architecture[/variant], as the index names it")


class ContentsView(View):
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    config: PartView | None = Field(description="null for an index")
    platform: str | None = Field(
        description="os/architecture[/variant] as the image's config names it; null for an index, "
        "or when the config blob is not cached"
    )
    layers: list[PartView]
    manifests: list[PlatformedView] = Field(description="an index's platform manifests")
    listed_by: list[PlatformedView] = Field(description="cached indexes listing this manifest")


class ArtifactView(View):
    subject: str = Field(description="the digest signed: the image, or an index listing it")
    kind: str = Field(description="cosign, sigstore_bundle or notation")
    digest: str
    found_by: str


class SignerView(View):
    authority: str = Field(description="the policy's name for who may sign")
    signer: str = Field(description="the key fingerprint, certificate identity or Notation signer")


class SignatureStateView(View):
    upstream: str
    repository: str
    requirements: int = Field(description="signature requirements applying to the image here")
    verdict: str = Field(description="what the requirements say now: allow, warn, deny or pending")
    checks: list[ReasonView] = Field(
        description="one per requirement; detail.held, detail.verified (authority, signer), detail.rejected"
    )
    signers: list[SignerView] = Field(description="every distinct signer verified, across requirements")
    artifacts: list[ArtifactView]
    problem: str | None = Field(description="signatures could not be looked for or verified")


class SignaturesView(View):
    digest: str
    items: list[SignatureStateView]


class SignaturesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upstream: str | None = Field(default=None, max_length=255, description="only this upstream")
    repository: str | None = Field(default=None, max_length=255, description="only this repository")


class WaiverView(View):
    exception: str
    image: str = Field(description="upstream/repository where the exception applies")
    justification: str
    owner: str
    expires_at: AwareDatetime | None


class WaivedFindingView(FindingView):
    waived_by: list[WaiverView] = Field(description="exceptions in force that waive it; empty: it counts")


class VulnerabilitiesView(View):
    digest: str
    scanner: str
    db_version: str
    scanned_at: AwareDatetime
    findings: list[WaivedFindingView] = Field(description="of the newest finished scan")


async def contents(request: web.Request) -> web.Response:
    found = await admin(request).inspect.contents(digest_of(request))
    return reply(_contents(found))


async def signatures(request: web.Request) -> web.Response:
    digest = digest_of(request)
    wanted = query(request, SignaturesQuery)
    states = await admin(request).inspect.signatures(digest, wanted.upstream, wanted.repository)
    return reply(SignaturesView(digest=str(digest), items=[_state(s) for s in states]))


async def vulnerabilities(request: web.Request) -> web.Response:
    found = await admin(request).inspect.vulnerabilities(digest_of(request))
    report = found.scan.report
    assert report is not None  # the service answers only finished scans
    items = [
        WaivedFindingView(
            **finding_view(f).model_dump(), waived_by=[WaiverView.model_validate(w) for w in waivers]
        )
        for f, waivers in found.findings
    ]
    return reply(
        VulnerabilitiesView(
            digest=found.digest,
            scanner=report.scanner,
            db_version=report.db_version,
            scanned_at=report.scanned_at,
            findings=items,
        )
    )


def _part(part: Part) -> PartView:
    return PartView(digest=part.digest, media_type=part.media_type, size=part.size)


def _platformed(entry: Platformed) -> PlatformedView:
    return PlatformedView(
        digest=entry.digest, media_type=entry.media_type, size=entry.size, platform=entry.platform
    )


def _contents(contents: Contents) -> ContentsView:
    found = contents.parts
    return ContentsView(
        digest=found.digest,
        media_type=found.media_type,
        size=found.size,
        artifact_type=found.artifact_type,
        subject_digest=found.subject_digest,
        config=_part(found.config) if found.config else None,
        platform=contents.platform,
        layers=[_part(p) for p in found.layers],
        manifests=[_platformed(m) for m in found.manifests],
        listed_by=[_platformed(m) for m in found.listed_by],
    )


def _state(state: SignatureState) -> SignatureStateView:
    inspection = state.inspection
    reasons = inspection.verdict.reasons
    signers: dict[tuple[str, str], None] = {}
    for reason in reasons:
        for verified in _verified(reason.detail):
            authority = str(verified.get("authority") or "")
            signers[(authority, str(verified.get("signer") or verified.get("message") or authority))] = None
    artifacts = [
        ArtifactView(subject=str(place.subject), kind=a.kind.value, digest=a.digest, found_by=a.found_by)
        for place in inspection.found
        for a in place.artifacts
    ]
    return SignatureStateView(
        upstream=state.upstream,
        repository=state.repository,
        requirements=state.requirements,
        verdict=inspection.verdict.outcome.value,
        checks=[ReasonView.model_validate(r) for r in reasons],
        signers=[SignerView(authority=a, signer=s) for a, s in signers],
        artifacts=artifacts,
        problem=inspection.problem,
    )


def _verified(detail: dict[str, Any]) -> list[dict[str, Any]]:
    entries = detail.get("verified", [])
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


_DIGEST = "{digest:[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+}"
OPERATIONS = (
    Operation(
        "GET",
        f"/images/{_DIGEST}/contents",
        contents,
        "What a cached manifest is made of: config, layers, platform manifests, indexes listing it",
        "images",
        {200: Reply("its parts", ContentsView)},
        errors=(404,),
    ),
    Operation(
        "GET",
        f"/images/{_DIGEST}/signatures",
        signatures,
        "Signatures of an image and who signed it, verified now per repository (records nothing)",
        "images",
        {200: Reply("per repository: the requirements' verdict, signers and artifacts", SignaturesView)},
        query=SignaturesQuery,
        errors=(404,),
    ),
    Operation(
        "GET",
        f"/images/{_DIGEST}/vulnerabilities",
        vulnerabilities,
        "Findings of the newest finished scan, each with the exceptions in force that waive it",
        "images",
        {200: Reply("the findings", VulnerabilitiesView)},
        errors=(404,),
    ),
)
