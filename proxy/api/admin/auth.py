"""Bearer-token authentication and roles for the admin API.

Every /api/v1 request but the OpenAPI document needs `Authorization: Bearer pgt_...`; the
token is looked up (hashed) by the admin service. `admin` tokens may do anything, `auditor`
tokens only read (GET). Without a usable token the answer is 401 with a challenge
(RFC 6750 §3); an auditor trying to change something gets 403.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.api.admin.errors import PREFIX, ApiError, Code, is_admin_path
from proxy.api.admin.http import admin
from proxy.api.context import IDENTITY
from proxy.gate.admin import Actor, TokenRole

__all__ = ["ACTOR", "PUBLIC_PATHS", "actor", "authenticate"]

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
    token = _bearer(request.headers.get("Authorization", ""))
    if token is None:
        raise ApiError(
            Code.UNAUTHORIZED,
            "authentication required: send Authorization: Bearer <token> (pullgate token create)",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    info = await admin(request).tokens.authenticate(token)
    if info is None:
        raise ApiError(
            Code.UNAUTHORIZED,
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
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


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def _bearer(header: str) -> str | None:
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials
