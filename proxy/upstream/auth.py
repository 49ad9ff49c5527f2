"""Registry authentication: WWW-Authenticate challenges, Basic, and the bearer token flow.

The token flow follows the distribution token specification
(https://distribution.github.io/distribution/spec/auth/token/): a 401 names a realm, a
service and a scope; a GET to the realm (with Basic credentials, if we have any) returns a
token that is valid for ``expires_in`` seconds (60 when omitted).

Tokens are cached per scope and fetched once however many requests want them. Neither
credentials nor tokens are ever put into a message or repr.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import hdrs
from yarl import URL

from proxy.upstream.errors import (
    UpstreamError,
    UpstreamErrorKind,
    error_from_response,
    read_limited,
    redact_url,
    translate_client_errors,
)

__all__ = ["Authenticator", "Challenge", "Credentials", "parse_challenges", "pull_scope"]

DEFAULT_TOKEN_LIFETIME = 60.0
# Refresh a token this long before it expires (at most a quarter of its lifetime), so a
# request never leaves with a token that dies on the way.
_EXPIRY_MARGIN = 10.0
_MAX_TOKEN_RESPONSE = 1024 * 1024

# RFC 9110 section 11: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SCHEME_RE = re.compile(rf"[\s,]*({_TCHARS})")
# Unquoted values are taken up to the next comma or space, so a bare realm URL still parses.
_PARAM_RE = re.compile(rf"[\s,]*({_TCHARS})\s*=\s*({_QUOTED}|[^\s,\"]+)[ \t]*(?:,|$)")
_TOKEN68_RE = re.compile(r"\s+[A-Za-z0-9._~+/-]+=*[ \t]*(?:,|$)")
_ESCAPE_RE = re.compile(r"\\(.)")


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic_header(self) -> str:
        # RFC 7617 with UTF-8, as Go's SetBasicAuth sends it (aiohttp's BasicAuth is deprecated).
        pair = f"{self.username}:{self.password}".encode()
        return f"Basic {base64.b64encode(pair).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower-cased: "bearer", "basic", ...
    params: Mapping[str, str]  # names lower-cased, values unquoted

    @property
    def scope(self) -> str | None:
        return self.params.get("scope") or None


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """Every challenge in one or more WWW-Authenticate header values.

    A quoted value may hold commas (``scope="repository:a:pull,push"``), so values are
    tokenised rather than split on commas; a parameter is told from the next challenge's
    scheme by the ``=`` that follows it.
    """
    challenges: list[Challenge] = []
    for header in headers:
        challenges.extend(_parse_header(header))
    return challenges


def _parse_header(header: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        scheme = _SCHEME_RE.match(header, pos)
        if scheme is None:
            break
        pos = scheme.end()
        params: dict[str, str] = {}
        token68 = _TOKEN68_RE.match(header, pos)
        if token68 is not None:
            pos = token68.end()
        while (param := _PARAM_RE.match(header, pos)) is not None:
            params[param.group(1).lower()] = _unquote(param.group(2))
            pos = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _ESCAPE_RE.sub(r"\1", value[1:-1])
    return value


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float


class Authenticator:
    """Answers one upstream's challenges; holds its token cache and in-flight token fetches."""

    def __init__(
        self,
        upstream: str,
        registry_url: str,
        credentials: Credentials | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._upstream = upstream
        self._registry_scheme = URL(registry_url).scheme
        self._credentials = credentials
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        # Keyed by (credentials generation, scope): a fetch made with replaced credentials
        # is never joined by a request made after the change.
        self._fetches: dict[tuple[int, str], asyncio.Task[_Token]] = {}
        self._generation = 0
        self._basic = False  # the upstream asked for Basic once: send it up front from now on

    def __repr__(self) -> str:
        return f"Authenticator(upstream={self._upstream!r}, credentials={self._credentials is not None})"

    @property
    def credentials(self) -> Credentials | None:
        return self._credentials

    def use(self, credentials: Credentials | None) -> None:
        """Answer challenges with `credentials` from now on (None: anonymously).

        Every token obtained with the old credentials is dropped, and one still being
        fetched with them is not cached when it arrives: nothing the old account was
        granted outlives the change.
        """
        self._credentials = credentials
        self._generation += 1
        self._tokens.clear()
        self._basic = False

    def preemptive(self, scope: str | None) -> str | None:
        """The Authorization header to send before any challenge, if we already have one."""
        if self._basic and self._credentials is not None:
            return self._credentials.basic_header()
        token = self._tokens.get(scope or "")
        if token is None or token.refresh_at <= self._clock():
            return None
        return f"Bearer {token.value}"

    async def send(
        self,
        session: aiohttp.ClientSession,
        request: Callable[[str | None], Awaitable[aiohttp.ClientResponse]],
        scope: str | None,
        origin: URL,
    ) -> aiohttp.ClientResponse:
        """Make `request` with the best Authorization we have, answering at most one challenge.

        Only a 401 from the registry's own `origin` is a challenge: one from where a redirect
        led (object storage) is that service's business, and is returned as it is.
        """
        sent = self.preemptive(scope)
        response = await request(sent)
        if response.status != 401 or response.url.origin() != origin:
            return response
        try:
            challenges = parse_challenges(response.headers.getall(hdrs.WWW_AUTHENTICATE, []))
            answer = await self._respond(session, challenges, scope, sent)
        except BaseException:
            response.release()
            raise
        if answer is None:
            return response  # nothing to offer: the caller reports the 401
        response.release()
        return await request(answer)

    async def _respond(
        self,
        session: aiohttp.ClientSession,
        challenges: list[Challenge],
        scope: str | None,
        sent: str | None,
    ) -> str | None:
        """The Authorization header answering a 401, or None when we have nothing to offer.

        `sent` is what the refused request carried: a cached token the upstream refused
        (revoked, or expired early) is not offered again; a fresh one is fetched instead.
        """
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            token = await self._token(session, by_scheme["bearer"], scope, sent)
            return f"Bearer {token.value}"
        if "basic" in by_scheme and self._credentials is not None:
            self._basic = True
            return self._credentials.basic_header()
        return None

    async def close(self) -> None:
        fetches = list(self._fetches.values())
        for task in fetches:
            task.cancel()
        await asyncio.gather(*fetches, return_exceptions=True)
        self._tokens.clear()

    async def _token(
        self, session: aiohttp.ClientSession, challenge: Challenge, scope: str | None, sent: str | None
    ) -> _Token:
        # The challenge's scope is what the upstream wants; ours is the fallback (some
        # registries omit it). Cache under the requested scope: it is what a later
        # request for the same repository looks up.
        wanted = challenge.scope or scope or ""
        cached = self._tokens.get(wanted)
        if cached is not None and cached.refresh_at > self._clock() and sent != f"Bearer {cached.value}":
            return cached
        key = (self._generation, wanted)
        task = self._fetches.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(session, challenge, wanted))
            self._fetches[key] = task
            task.add_done_callback(lambda done: self._fetch_done(key, done))
        # Shielded: one caller giving up must not cancel the fetch the others wait for.
        return await asyncio.shield(task)

    def _fetch_done(self, key: tuple[int, str], task: asyncio.Task[_Token]) -> None:
        if self._fetches.get(key) is task:
            del self._fetches[key]
        if not task.cancelled():
            task.exception()  # mark it retrieved even if every waiter was cancelled

    async def _fetch(self, session: aiohttp.ClientSession, challenge: Challenge, scope: str) -> _Token:
        generation, credentials = self._generation, self._credentials
        realm = self._realm(challenge, credentials)
        query = [("service", challenge.params["service"])] if challenge.params.get("service") else []
        query += [("scope", s) for s in scope.split()]
        headers = {} if credentials is None else {"Authorization": credentials.basic_header()}
        started = self._clock()
        with translate_client_errors(self._upstream, "GET", realm):
            async with session.get(realm, params=query, headers=headers) as resp:
                if resp.status != 200:
                    raise await error_from_response(self._upstream, "GET", resp, what="token endpoint")
                body, truncated = await read_limited(resp, _MAX_TOKEN_RESPONSE)
        value, lifetime = self._parse_token(body) if not truncated else (None, 0.0)
        if value is None:
            message = f"token endpoint {redact_url(realm)} sent no token"
            raise UpstreamError(self._upstream, UpstreamErrorKind.PROTOCOL, message)
        token = _Token(value, started + lifetime - min(_EXPIRY_MARGIN, lifetime / 4))
        if generation == self._generation:  # else the credentials changed meanwhile: do not keep it
            self._tokens[scope] = token
        return token

    def _realm(self, challenge: Challenge, credentials: Credentials | None) -> URL:
        try:
            realm = URL(challenge.params.get("realm", ""))
        except ValueError:
            realm = URL()
        if realm.scheme not in ("http", "https") or not realm.host:
            message = "bearer challenge has no valid realm"
            raise UpstreamError(self._upstream, UpstreamErrorKind.PROTOCOL, message)
        if credentials is not None and realm.scheme == "http" and self._registry_scheme == "https":
            # A challenge must not talk us into sending the password in clear text.
            raise UpstreamError(
                self._upstream, UpstreamErrorKind.PROTOCOL, f"token realm {redact_url(realm)} is not https"
            )
        return realm

    @staticmethod
    def _parse_token(body: bytes) -> tuple[str | None, float]:
        """(token, lifetime in seconds) from a token response; ``access_token`` is the OAuth2 name."""
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None, 0.0
        if not isinstance(document, dict):
            return None, 0.0
        value = document.get("token") or document.get("access_token")
        lifetime = document.get("expires_in")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return (value if isinstance(value, str) and value else None), float(lifetime)
