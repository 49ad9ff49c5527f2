"""Cached images with their newest decision and review state, and one digest in full."""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import ImagesQuery
from proxy.api.admin.views import (
    DecisionView,
    ImageDetailView,
    ImageView,
    LatestDecisionView,
    PageView,
    PullerView,
    QuarantineStateView,
    QuarantineView,
    StoredView,
)
from proxy.gate.admin import CachedImageRow, QuarantineStatus
from proxy.oci.digest import Digest, InvalidDigestError

__all__ = ["OPERATIONS"]


async def list_images(request: web.Request) -> web.Response:
    wanted = query(request, ImagesQuery)
    page = await admin(request).images.page(
        upstream=wanted.upstream,
        repository=wanted.repository,
        outcome=wanted.outcome,
        limit=wanted.limit,
        cursor=wanted.cursor,
    )
    return reply(PageView[ImageView](items=[_image(row) for row in page.items], next_cursor=page.next_cursor))


async def get_image(request: web.Request) -> web.Response:
    try:
        digest = Digest.parse(request.match_info["digest"])
    except InvalidDigestError as exc:
        raise ApiError(Code.INVALID_FIELD, f"digest: {exc}", field="digest") from exc
    detail = await admin(request).images.detail(str(digest))
    view = ImageDetailView(
        digest=detail.digest,
        stored=StoredView.model_validate(detail.stored) if detail.stored is not None else None,
        repositories=[_image(row) for row in detail.holders],
        decisions=[DecisionView.model_validate(d) for d in detail.decisions],
        quarantine=[QuarantineView.model_validate(e) for e in detail.quarantine],
        pulled_by=PageView[PullerView](
            items=[PullerView.model_validate(p) for p in detail.pulled_by.items],
            next_cursor=detail.pulled_by.next_cursor,
        ),
    )
    return reply(view)


def _image(row: CachedImageRow) -> ImageView:
    quarantine = None
    if row.quarantine_id is not None and row.quarantine_status is not None:
        quarantine = QuarantineStateView(id=row.quarantine_id, status=QuarantineStatus(row.quarantine_status))
    return ImageView(
        upstream=row.upstream,
        repository=row.repository,
        digest=row.digest,
        media_type=row.media_type,
        size=row.size,
        artifact_type=row.artifact_type,
        subject_digest=row.subject_digest,
        fetched_at=row.fetched_at,
        tags=list(row.tags),
        decision=LatestDecisionView.model_validate(row.decision) if row.decision is not None else None,
        quarantine=quarantine,
    )


OPERATIONS = (
    Operation(
        "GET",
        "/images",
        list_images,
        "Cached manifests with their newest decision and review state",
        "images",
        {200: Reply("a page of cached images, in the order they were first cached", PageView[ImageView])},
        query=ImagesQuery,
    ),
    Operation(
        "GET",
        "/images/{digest}",
        get_image,
        "One digest in full: where it is cached, decisions, reviews, who pulled it",
        "images",
        {200: Reply("the blast radius of the digest", ImageDetailView)},
        errors=(404,),
    ),
)
