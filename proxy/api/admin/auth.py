"""Bearer-token authentication and roles for the admin API.

Every /api/v1 request but the OpenAPI document needs `Authorization: Bearer pgt_...`; the
token is verified (scrypt, then cached briefly) by the admin service. `admin` tokens may do
anything, `auditor` tokens only read (GET). Without a usable token the answer is 401 with a
challenge (RFC 6750 §3), "expired" for a token past its expiry; an auditor trying to change
something gets 403. A presented token that fails counts against the client's address in
the failure limiter: past its limit, 429 before the token is even looked at.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.api.admin.errors import PREFIX, ApiError, Code, is_admin_path
from proxy.api.admin.http import admin
from proxy.api.context import IDENTITY, SERVICES
from proxy.gate.admin import Actor, TokenInfo, TokenRole

__all__ = ["ACTOR", "PUBLIC_PATHS", "actor", "authenticate"]

log = logging.getLogger(__name__)

ACTOR = web.RequestKey("admin_actor", Actor)
PUBLIC_PATHS = frozenset({f"{PREFIX}/openapi.json"})
READ_METHODS = frozenset({"GET", "HEAD"})
# POSTs that change nothing: an auditor may ask what the gate would decide.
READ_ONLY_POSTS = frozenset({f"{PREFIX}/decisions/dry-run"})
_CHALLENGE = 'Bearer realm="pullgate"'


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_admin_path(request.path) or request.path in PUBLIC_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(
            Code.UNAUTHORIZED,
            "authentication required: send Authorization: Bearer <token> (pullgate token create)",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    info = await _verified(request, header)
    read_only = request.method in READ_METHODS or (
        request.method == "POST" and request.path in READ_ONLY_POSTS
    )
    if not read_only and info.role is not TokenRole.ADMIN:
        raise ApiError(Code.FORBIDDEN, f"a {info.role.value} token may only read; this needs an admin token")
    who = Actor(
        token_id=info.id,
        name=info.name,
        role=info.role,
        address=request.remote,
        user_agent=request.headers.get("User-Agent", "")[:512] or None,
    )
    request[ACTOR] = who
    request[IDENTITY] = who.identity
    return await handler(request)


async def _verified(request: web.Request, header: str) -> TokenInfo:
    """The live token the header presents; every failure counts against the client's address."""
    services = request.app[SERVICES]
    limiter = services.limiter
    if limiter is not None:
        wait = limiter.retry_after(request.remote)
        if wait is not None:  # refused before the token is even looked at
            services.metrics.auth_limited.labels("admin").inc()
            raise ApiError(
                Code.TOO_MANY_REQUESTS,
                f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    token = _bearer(header)
    if token is None:
        problem = "send Authorization: Bearer <token> (pullgate token create)"
    else:
        info = await admin(request).tokens.authenticate(token)
        if info is not None and not info.expired(datetime.now(UTC)):
            return info
        problem = "the token is unknown or revoked"
        if info is not None:
            problem = f"the token expired at {info.expires_at:%Y-%m-%dT%H:%M:%SZ}; create a new one"
    if limiter is not None:
        limiter.failed(request.remote)
    services.metrics.auth_failures.labels("admin").inc()
    log.info("admin API authentication failed from %s: %s", request.remote, problem)
    raise ApiError(
        Code.UNAUTHORIZED, problem, headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'}
    )


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def _bearer(header: str) -> str | None:
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials
