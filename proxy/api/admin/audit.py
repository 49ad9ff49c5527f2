"""The audit log: every pull decision and admin change, filtered and paged; who pulled a digest."""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.http import admin, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import AuditQuery, PullsQuery
from proxy.api.admin.views import AuditEventView, PageView, PullerView

__all__ = ["OPERATIONS"]


async def list_events(request: web.Request) -> web.Response:
    wanted = query(request, AuditQuery)
    page = await admin(request).audit.events(
        since=wanted.since,
        until=wanted.until,
        upstream=wanted.upstream,
        repository=wanted.repository,
        digest=wanted.digest,
        outcome=wanted.outcome.value if wanted.outcome is not None else None,
        client=wanted.client,
        kind=wanted.kind,
        limit=wanted.limit,
        cursor=wanted.cursor,
    )
    items = [AuditEventView.model_validate(event) for event in page.items]
    return reply(PageView[AuditEventView](items=items, next_cursor=page.next_cursor))


async def who_pulled(request: web.Request) -> web.Response:
    wanted = query(request, PullsQuery)
    page = await admin(request).audit.who_pulled(wanted.digest, wanted.limit, wanted.cursor)
    items = [PullerView.model_validate(puller) for puller in page.items]
    return reply(PageView[PullerView](items=items, next_cursor=page.next_cursor))


OPERATIONS = (
    Operation(
        "GET",
        "/audit",
        list_events,
        "Audit events, newest first, filtered",
        "audit",
        {200: Reply("a page of events", PageView[AuditEventView])},
        query=AuditQuery,
    ),
    Operation(
        "GET",
        "/audit/pulls",
        who_pulled,
        "Every client that pulled a digest (the blast radius)",
        "audit",
        {200: Reply("a page of clients, by address and identity", PageView[PullerView])},
        query=PullsQuery,
    ),
)
