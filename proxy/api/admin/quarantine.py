"""The review queue: list and read entries, release (an exception) or reject (for good).

A release or rejection bumps the policy version, so every replica re-decides the image on
its next pull; the state machine's refusals (releasing a rejected image, ...) answer 409.
"""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, json_body, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import QuarantineQuery, RejectBody, ReleaseBody
from proxy.api.admin.views import PageView, QuarantineView, ReviewView
from proxy.gate.admin import Reviewed

__all__ = ["OPERATIONS"]

_MAX_ID = 2**63 - 1


async def list_quarantine(request: web.Request) -> web.Response:
    wanted = query(request, QuarantineQuery)
    page = await admin(request).quarantine.page(wanted.status, wanted.limit, wanted.cursor)
    items = [QuarantineView.model_validate(entry) for entry in page.items]
    return reply(PageView[QuarantineView](items=items, next_cursor=page.next_cursor))


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


def _review(reviewed: Reviewed) -> ReviewView:
    entry = QuarantineView.model_validate(reviewed.entry)
    return ReviewView(**entry.model_dump(), policy_version=reviewed.policy_version)


_ID = r"/quarantine/{id:\d{1,20}}"
OPERATIONS = (
    Operation(
        "GET",
        "/quarantine",
        list_quarantine,
        "The review queue, oldest first (filter by status)",
        "quarantine",
        {200: Reply("a page of entries", PageView[QuarantineView])},
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
