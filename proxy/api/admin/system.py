"""Upstreams with their health, the content cache with its counters, purges, and tokens."""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.auth import actor
from proxy.api.admin.http import admin, json_body, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import Paging, PurgeBody, TokenBody
from proxy.api.admin.views import (
    CacheView,
    ObjectTotalsView,
    PageView,
    PurgeView,
    RevokedView,
    TokenCreatedView,
    TokenView,
    UpstreamView,
)
from proxy.oci.digest import Digest

__all__ = ["OPERATIONS"]


async def list_upstreams(request: web.Request) -> web.Response:
    # Configured, not discovered: the whole list is one page.
    statuses = await admin(request).system.upstreams()
    items = [UpstreamView.model_validate(status) for status in statuses]
    return reply(PageView[UpstreamView](items=items, next_cursor=None))


async def cache_stats(request: web.Request) -> web.Response:
    stats = await admin(request).system.cache()
    kinds = sorted(stats.hits.keys() | stats.misses.keys())
    ratio = {kind: _ratio(stats.hits.get(kind, 0.0), stats.misses.get(kind, 0.0)) for kind in kinds}
    return reply(
        CacheView(
            stored_bytes=stats.stored_bytes,
            max_bytes=stats.max_bytes,
            objects={k: ObjectTotalsView.model_validate(v) for k, v in stats.objects.items()},
            hits=stats.hits,
            misses=stats.misses,
            hit_ratio=ratio,
            evicted_bytes=stats.evicted_bytes,
        )
    )


def _ratio(hits: float, misses: float) -> float | None:
    return hits / (hits + misses) if hits + misses else None


async def purge(request: web.Request) -> web.Response:
    body = await json_body(request, PurgeBody)
    system = admin(request).system
    if body.digest is not None:
        purged = await system.purge_digest(actor(request), Digest.parse(body.digest))
    else:
        assert body.target_bytes is not None  # the model requires exactly one of the two
        purged = await system.purge_to(actor(request), body.target_bytes)
    return reply(PurgeView.model_validate(purged))


async def list_tokens(request: web.Request) -> web.Response:
    paging = query(request, Paging)
    page = await admin(request).tokens.page(paging.limit, paging.cursor)
    items = [TokenView.model_validate(token) for token in page.items]
    return reply(PageView[TokenView](items=items, next_cursor=page.next_cursor))


async def create_token(request: web.Request) -> web.Response:
    body = await json_body(request, TokenBody)
    token_id, plaintext = await admin(request).tokens.create(
        actor(request), body.name, body.role, body.expires_at
    )
    created = TokenCreatedView(
        id=token_id, name=body.name, role=body.role, expires_at=body.expires_at, token=plaintext
    )
    return reply(created, 201)


async def revoke_token(request: web.Request) -> web.Response:
    token_id = request.match_info["id"]
    await admin(request).tokens.revoke(actor(request), token_id)
    return reply(RevokedView(id=token_id, revoked=True))


OPERATIONS = (
    Operation(
        "GET",
        "/upstreams",
        list_upstreams,
        "Configured upstreams and their health (pinged now)",
        "system",
        {200: Reply("every upstream", PageView[UpstreamView])},
    ),
    Operation(
        "GET",
        "/cache",
        cache_stats,
        "Content cache size and counters",
        "system",
        {200: Reply("the cache", CacheView)},
    ),
    Operation(
        "POST",
        "/cache/purge",
        purge,
        "Evict down to target_bytes, or remove one digest (never busy content)",
        "system",
        {200: Reply("what was freed", PurgeView)},
        body=PurgeBody,
        errors=(404, 409),
    ),
    Operation(
        "GET",
        "/tokens",
        list_tokens,
        "API tokens, revoked ones included (never their secrets)",
        "tokens",
        {200: Reply("a page of tokens, oldest first", PageView[TokenView])},
        query=Paging,
    ),
    Operation(
        "POST",
        "/tokens",
        create_token,
        "Create a token, optionally expiring; its secret is in this response only",
        "tokens",
        {201: Reply("the token and its secret", TokenCreatedView)},
        body=TokenBody,
    ),
    Operation(
        "DELETE",
        "/tokens/{id}",
        revoke_token,
        "Revoke a token",
        "tokens",
        {200: Reply("the token is revoked", RevokedView)},
        errors=(404,),
    ),
)
