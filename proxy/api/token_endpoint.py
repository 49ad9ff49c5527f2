"""The token endpoint, ``/auth/token``: pullgate as the issuer of its own pull tokens.

Outside /v2 so that no repository route can collide with it. Two forms, as clients use them
(containerd tries the first, falls back to the second; skopeo and podman use the second):

- ``POST`` (distribution's OAuth2 form, RFC 6749 §4.3): a form body with
  ``grant_type=password``, ``username``, ``password``, ``service``, ``scope``
  (space-separated) and optionally ``client_id``, ``access_type``. pullgate issues no
  refresh tokens: ``grant_type=refresh_token`` is refused.
- ``GET`` (distribution's token specification): ``?service=...&scope=...`` (repeatable)
  with the robot's credentials as Basic auth, or none for an anonymous token.

The answer is ``{"token", "access_token", "expires_in", "issued_at"}`` (POST adds
``scope``), granting pull on the intersection of what was asked and what the robot (or
anyone, for an anonymous token) may pull. Scope names are routed like /v2 paths, or given
canonically as ``<upstream>/<repository>`` (what pullgate's challenges name). Malformed
requests answer 400 ``TOKEN_REQUEST_INVALID``, wrong credentials 401, and the failure limit
applies as on /v2.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from multidict import MultiMapping

from proxy.api.context import ROUTE, SERVICES
from proxy.api.pull_auth import TOKEN_PATH, basic_credentials, checked
from proxy.cache.keys import RepoKey
from proxy.gate.auth.pull import AuthFailure, IssuedToken, Principal, PullAuth
from proxy.gate.auth.scopes import TokenScope, TokenScopeError, canonical_name, parse_token_scope
from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["routes"]

MAX_SCOPES = 20
routes = web.RouteTableDef()


def _bad(message: str) -> RegistryError:
    return RegistryError(ErrorCode.TOKEN_REQUEST_INVALID, message)


def _auth(request: web.Request) -> PullAuth:
    request[ROUTE] = "token"  # the request metrics' label
    auth = request.app[SERVICES].pull_auth
    if auth is None:  # the route is mounted only with pull auth: a wiring bug
        raise RegistryError(ErrorCode.UNAVAILABLE, "pull authentication is not enabled")
    return auth


@routes.get(TOKEN_PATH)
async def get_token(request: web.Request) -> web.Response:
    auth = _auth(request)
    query = request.query
    _check_service(auth, _single(query, "service"))
    scopes = _scopes(query.getall("scope", []))
    principal = None
    header = request.headers.get("Authorization")
    if header is not None:
        principal = await checked(request, auth, lambda: _basic(auth, header))
    account = _single(query, "account", required=False)
    if account is not None and principal is not None and account != principal.robot:
        raise _bad(f"account {account[:64]!r} is not the robot the credentials are for")
    issued = auth.issue(principal, [key for _, key in _routed(request, scopes)])
    return _answer(issued)


@routes.post(TOKEN_PATH)
async def post_token(request: web.Request) -> web.Response:
    auth = _auth(request)
    if request.content_type != "application/x-www-form-urlencoded":
        raise _bad(
            f"send the OAuth2 parameters as application/x-www-form-urlencoded, not {request.content_type}"
        )
    form = await request.post()
    grant = _single(form, "grant_type")
    if grant != "password":
        raise _bad(
            f"grant_type {grant[:40]!r} is not supported: use password (pullgate issues no refresh tokens)"
        )
    _check_service(auth, _single(form, "service"))
    scopes = _scopes(_single(form, "scope", required=False, default="").split())
    username, password = _single(form, "username"), _single(form, "password")
    principal = await checked(request, auth, lambda: auth.basic(username, password))
    routed = _routed(request, scopes)
    issued = auth.issue(principal, [key for _, key in routed])
    # OAuth2 answers the granted scopes, as they were asked for.
    given = [
        f"repository:{scope.name}:pull" for scope, key in routed if canonical_name(key) in issued.granted
    ]
    return _answer(issued, scope=" ".join(given))


async def _basic(auth: PullAuth, header: str) -> Principal:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise AuthFailure(
            "the token endpoint takes Basic robot credentials (or none, for an anonymous token)"
        )
    name, secret = basic_credentials(credentials)
    return await auth.basic(name, secret)


def _single(
    params: MultiMapping[str] | MultiMapping[str | object],
    name: str,
    *,
    required: bool = True,
    default: str | None = None,
) -> str:
    values = params.getall(name, [])
    if len(values) > 1:
        raise _bad(f"{name} is given {len(values)} times")
    if not values:
        if required:
            raise _bad(f"{name} is required")
        return default  # type: ignore[return-value]
    value = values[0]
    if not isinstance(value, str):
        raise _bad(f"{name} must be a plain form field")
    return value


def _check_service(auth: PullAuth, service: str) -> None:
    if service != auth.settings.service:
        raise _bad(f"service {service[:80]!r} is not this pullgate's ({auth.settings.service!r})")


def _scopes(given: Iterable[str]) -> list[TokenScope]:
    # One scope per parameter, or several space-separated in one (both are seen in the wild).
    texts = [text for value in given for text in value.split()]
    if len(texts) > MAX_SCOPES:
        raise _bad(f"at most {MAX_SCOPES} scopes per request")
    try:
        return [parse_token_scope(text) for text in texts]
    except TokenScopeError as exc:
        raise _bad(str(exc)) from exc


def _routed(request: web.Request, scopes: list[TokenScope]) -> list[tuple[TokenScope, RepoKey]]:
    """Each pull scope with its routed repository (other kinds and actions get nothing)."""
    router = request.app[SERVICES].router
    routed = []
    for scope in scopes:
        if not scope.wants_pull:
            continue
        try:
            routed.append((scope, router.scope_key(scope.name)))
        except RegistryError as exc:
            raise _bad(f"scope names an invalid repository {scope.name[:80]!r}: {exc.message}") from exc
    return routed


def _answer(issued: IssuedToken, **extra: str) -> web.Response:
    body = {
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": issued.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **extra,
    }
    # A token is a credential: no cache may keep it (RFC 6749 §5.1).
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
