"""Client-side registry auth: Basic credentials, bearer tokens, and the challenge dance."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import aiohttp

__all__ = ["Auth", "Basic", "auth_headers", "fetch_bearer_token", "parse_challenge"]

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Basic:
    """HTTP Basic credentials (aiohttp's own ``BasicAuth`` is deprecated in 3.14)."""

    username: str
    password: str

    def header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


# Basic credentials, a bearer token string, or nothing.
Auth = Basic | str | None


def auth_headers(auth: Auth) -> dict[str, str]:
    if isinstance(auth, Basic):
        return {"Authorization": auth.header()}
    if isinstance(auth, str):
        return {"Authorization": f"Bearer {auth}"}
    return {}


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` -> ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


async def fetch_bearer_token(
    session: aiohttp.ClientSession,
    challenge: str,
    *,
    basic: Basic | None = None,
    scope: str | None = None,
) -> str:
    """Follow a ``WWW-Authenticate: Bearer`` challenge to its realm and return the token.

    Raises ``aiohttp.ClientResponseError`` when the token server refuses.
    """
    scheme, params = parse_challenge(challenge)
    assert scheme == "bearer", challenge
    query = {"service": params.get("service", "")}
    if scope or params.get("scope"):
        query["scope"] = scope or params["scope"]
    async with session.get(params["realm"], params=query, headers=auth_headers(basic)) as resp:
        resp.raise_for_status()
        body = await resp.json()
    return str(body.get("token") or body["access_token"])
