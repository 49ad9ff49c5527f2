"""Pull-side authentication on /v2: who the client is (middleware), and whether it may pull
the repository a request routes to (`authorize`, called by the handlers once they have
routed: scopes are checked against the routed registry and repository, never the raw path).

Unauthenticated requests are answered 401 ``UNAUTHORIZED`` with the challenge of
distribution's token specification,
``WWW-Authenticate: Bearer realm="<token endpoint>",service="<service>",scope="repository:<name>:pull"``
(the name as the client spelled it; ``?ns=`` requests, whose path names no registry, get
the canonical ``<upstream>/<repository>``). A robot without a scope for the repository gets
403 ``DENIED`` naming both. Credentials that do not verify are 401 too, and count against
the client's address: past the limit, 429 ``TOOMANYREQUESTS`` with ``Retry-After``, before
the credentials are looked at.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.api.context import IDENTITY, SERVICES
from proxy.api.routing import RegistryRequest
from proxy.gate.auth.pull import Access, AuthFailure, Principal, PullAuth
from proxy.gate.auth.scopes import canonical_name
from proxy.oci.errors import ErrorCode, RegistryError

__all__ = [
    "PRINCIPAL",
    "TOKEN_PATH",
    "authenticate",
    "authorize",
    "basic_credentials",
    "challenge",
    "checked",
    "require_principal",
]

log = logging.getLogger(__name__)

PRINCIPAL = web.RequestKey("pull_principal", Principal)
TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a secret
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _pull_auth(request: web.Request) -> PullAuth | None:
    return request.app[SERVICES].pull_auth


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = _pull_auth(request)
    if auth is None or not (request.path == "/v2" or request.path.startswith("/v2/")):
        return await handler(request)
    header = request.headers.get("Authorization")
    if header is not None:
        principal = await checked(request, auth, lambda: _principal(auth, header))
        request[PRINCIPAL] = principal
        if principal.identity is not None:
            request[IDENTITY] = principal.identity
    return await handler(request)


async def checked(
    request: web.Request, auth: PullAuth, verify: Callable[[], Awaitable[Principal]]
) -> Principal:
    """Run `verify` under the failure limiter; failures answer 401."""
    services = request.app[SERVICES]
    limiter, surface = services.limiter, "token" if request.path == TOKEN_PATH else "pull"
    if limiter is not None:
        wait = limiter.retry_after(request.remote)
        if wait is not None:
            services.metrics.auth_limited.labels(surface).inc()
            raise RegistryError(
                ErrorCode.TOOMANYREQUESTS,
                f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    try:
        return await verify()
    except AuthFailure as exc:
        if exc.counts and limiter is not None:
            limiter.failed(request.remote)
        services.metrics.auth_failures.labels(surface).inc()
        log.info("%s authentication failed from %s: %s", surface, request.remote, exc.message)
        raise RegistryError(
            ErrorCode.UNAUTHORIZED, exc.message, headers=challenge(request, auth, error="invalid_token")
        ) from exc


async def _principal(auth: PullAuth, header: str) -> Principal:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "basic":
        name, secret = basic_credentials(credentials)
        return await auth.basic(name, secret)
    if scheme.lower() == "bearer" and credentials.strip():
        return await auth.bearer(credentials.strip())
    raise AuthFailure(
        f"unsupported Authorization header: send Basic robot credentials or a Bearer token from {TOKEN_PATH}"
    )


def basic_credentials(encoded: str) -> tuple[str, str]:
    """(name, secret) of a Basic header's credentials (RFC 7617); AuthFailure if malformed."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise AuthFailure("malformed Basic credentials: not base64 of UTF-8 text") from exc
    name, sep, secret = decoded.partition(":")
    if not sep or not name or not secret:
        raise AuthFailure("malformed Basic credentials: expected robot-name:secret")
    return name, secret


def authorize(request: web.Request, target: RegistryRequest) -> None:
    """Refuse unless the request's principal (or anyone) may pull the routed repository."""
    auth = _pull_auth(request)
    if auth is None:
        return
    key = target.key
    principal = request.get(PRINCIPAL)
    access = auth.access(principal, key)
    if access is Access.ALLOW:
        return
    if access is Access.CHALLENGE:
        robot = principal.robot if principal is not None else None
        why = (
            f"this token does not grant pull {key}; ask {TOKEN_PATH} for one with this scope"
            if robot is not None
            else f"authentication required to pull {key}: authenticate as a robot account with a scope for it "
            f"(Basic, or a token from {TOKEN_PATH})"
        )
        error = "insufficient_scope" if principal is not None else None
        raise RegistryError(
            ErrorCode.UNAUTHORIZED,
            why,
            headers=challenge(request, auth, _scope_name(request, target), error=error),
        )
    assert principal is not None
    raise RegistryError(
        ErrorCode.DENIED,
        f"robot {principal.robot!r} may not pull {key}: none of its scopes covers this repository",
        detail={"robot": principal.robot, "registry": key.upstream, "repository": str(key.name)},
    )


def _scope_name(request: web.Request, target: RegistryRequest) -> str:
    # The name as the client spelled it routes back to the same repository (Router.scope_key),
    # and is what skopeo and podman can parse (they split scopes at every colon). A ?ns=
    # request's path names no registry: there the canonical <upstream>/<repository>, which
    # may hold a port; containerd, the one client sending ns, passes scopes on unparsed.
    return canonical_name(target.key) if "ns" in request.query else target.display_name


def require_principal(request: web.Request) -> None:
    """The /v2/ ping: 200 for any valid credential, else the challenge (no scope)."""
    auth = _pull_auth(request)
    if auth is not None and PRINCIPAL not in request:
        raise RegistryError(
            ErrorCode.UNAUTHORIZED,
            "authentication required: pullgate serves pulls to robot accounts",
            headers=challenge(request, auth),
        )


def challenge(
    request: web.Request, auth: PullAuth, scope_name: str | None = None, *, error: str | None = None
) -> dict[str, str]:
    params = [f'realm="{_realm(request, auth)}"', f'service="{auth.settings.service}"']
    if scope_name is not None:
        params.append(f'scope="repository:{scope_name}:pull"')
    if error is not None:
        params.append(f'error="{error}"')
    return {"WWW-Authenticate": "Bearer " + ",".join(params)}


def _realm(request: web.Request, auth: PullAuth) -> str:
    if auth.settings.realm is not None:
        return auth.settings.realm
    host = request.host
    if not _HOST.fullmatch(host):  # never echo a Host that could break out of the quotes
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = f"{_bracketed(sockname[0])}:{sockname[1]}" if sockname else "localhost"
    return f"{request.scheme}://{host}{TOKEN_PATH}"


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address
