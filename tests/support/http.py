"""One-shot HTTP calls for tests: status, headers and body of a request to pullgate or a registry."""

from __future__ import annotations

import aiohttp

__all__ = ["http_get", "http_head"]


async def http_get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def http_head(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.head(url, headers=headers) as resp:
        return resp.status, dict(resp.headers)
