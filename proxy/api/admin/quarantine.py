"""The review queue: list and read entries, release (an exception) or reject (for good).

A release or rejection bumps the policy version, so every replica re-decides the image on
its next pull; the state machine's refusals (releasing a rejected image, ...) answer 409.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import AwareDatetime, Field

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, json_body, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import QuarantineQuery, RejectBody, ReleaseBody
from proxy.api.admin.views import PageView, QuarantineView, ReviewView, View
from proxy.gate.admin import QueueEntry, Reviewed, ScanSummary
from proxy.scanning.model import Severity

__all__ = ["OPERATIONS"]

_MAX_ID = 2**63 - 1


class ScanSummaryView(View):
    scanner: str
    db_version: str
    finished_at: AwareDatetime | None
    findings: int = Field(description="distinct findings of the newest finished scan")
    by_severity: dict[str, int] = Field(description="critical, high, medium, low, none, unknown")


class QueueEntryView(QuarantineView):
    scan: ScanSummaryView | None = Field(description="null: no finished scan of the digest")


async def list_quarantine(request: web.Request) -> web.Response:
    wanted = query(request, QuarantineQuery)
    page = await admin(request).quarantine.page(wanted.status, wanted.limit, wanted.cursor)
    items = [_queued(entry) for entry in page.items]
    return reply(PageView[QueueEntryView](items=items, next_cursor=page.next_cursor))


async def get_entry(request: web.Request) -> web.Response:
    entry = await admin(request).quarantine.get(_entry_id(request))
    return reply(QuarantineView.model_validate(entry))


async def release(request: web.Request) -> web.Response:
    entry_id = _entry_id(request)
    body = await json_body(request, ReleaseBody)
    reviewed = await admin(request).quarantine.release(actor(request), entry_id, body.reason, body.expires_at)
    return reply(_review(reviewed))


async def reject(request: web.Request) -> web.Response:
    entry_id = _entry_id(request)
    body = await json_body(request, RejectBody)
    reviewed = await admin(request).quarantine.reject(actor(request), entry_id, body.reason)
    return reply(_review(reviewed))


def _entry_id(request: web.Request) -> int:
    value = int(request.match_info["id"])  # the route admits digits only
    if value > _MAX_ID:  # beyond any database integer: no such entry
        raise ApiError(Code.NOT_FOUND, f"no quarantine entry {value}")
    return value


def _queued(queued: QueueEntry) -> QueueEntryView:
    entry = QuarantineView.model_validate(queued.entry)
    return QueueEntryView(**entry.model_dump(), scan=_summary(queued.scan) if queued.scan else None)


def _summary(scan: ScanSummary) -> ScanSummaryView:
    by_severity = {severity.name.lower(): scan.by_severity.get(severity.value, 0) for severity in Severity}
    return ScanSummaryView(
        scanner=scan.scanner,
        db_version=scan.db_version,
        finished_at=scan.finished_at,
        findings=sum(scan.by_severity.values()),
        by_severity=by_severity,
    )


def _review(reviewed: Reviewed) -> ReviewView:
    entry = QuarantineView.model_validate(reviewed.entry)
    return ReviewView(**entry.model_dump(), policy_version=reviewed.policy_version)


_ID = r"/quarantine/{id:\d{1,20}}"
OPERATIONS = (
    Operation(
        "GET",
        "/quarantine",
        list_quarantine,
        "The review queue, oldest first (filter by status), with each image's scan summary",
        "quarantine",
        {200: Reply("a page of entries", PageView[QueueEntryView])},
        query=QuarantineQuery,
    ),
    Operation(
        "GET",
        _ID,
        get_entry,
        "One quarantine entry",
        "quarantine",
        {200: Reply("the entry", QuarantineView)},
        errors=(404,),
    ),
    Operation(
        "POST",
        _ID + "/release",
        release,
        "Release a pending image (an exception, until expires_at if given)",
        "quarantine",
        {200: Reply("the released entry and the new policy version", ReviewView)},
        body=ReleaseBody,
        errors=(404, 409),
    ),
    Operation(
        "POST",
        _ID + "/reject",
        reject,
        "Reject a pending or released image for good",
        "quarantine",
        {200: Reply("the rejected entry and the new policy version", ReviewView)},
        body=RejectBody,
        errors=(404, 409),
    ),
)
