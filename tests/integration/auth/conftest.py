"""The pull-authentication test world: pullgate with pull_auth on over a real upstream,
robots made through the same store the admin API uses, and audit records read back.

These tests are about the protocol: their pullgate runs on SQLite unless a test asks for
both databases (`database_url`). The stores underneath are tested on both backends in
tests/integration/db, and replicas sharing PostgreSQL in tests/integration/replicas.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from db.audit_queries import AuditEventRow
from db.pull_keys import SigningKey, SigningKeyStore
from db.session import create_engine, session_factory
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry

FAST_AUDIT = {"audit_flush_interval": 0.02}


def basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def error(self) -> dict[str, Any]:
        entry: dict[str, Any] = json.loads(self.body)["errors"][0]
        return entry

    @property
    def challenge(self) -> str:
        return self.headers.get("WWW-Authenticate", "")


async def call(
    url: str,
    *,
    method: str = "GET",
    authorization: str | None = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    local_address: str | None = None,
) -> Reply:
    sent = {"Accept": MANIFEST_ACCEPT, **(headers or {})}
    if authorization is not None:
        sent["Authorization"] = authorization
    connector = aiohttp.TCPConnector(local_addr=(local_address, 0)) if local_address else None
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(method, url, headers=sent, data=data) as resp,
    ):
        return Reply(resp.status, resp.headers, await resp.read())


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    return sqlite_url


@dataclass
class AuthWorld:
    pullgate: Pullgate
    upstream: RunningRegistry
    images: ImageFactory
    push_to: Callable[..., Awaitable[str]]

    @property
    def registry(self) -> str:
        """The upstream's name in pullgate (what ?ns= and scopes name)."""
        return self.upstream.host

    def url(self, path: str) -> str:
        return f"{self.pullgate.url}{path}"

    async def token(self, *scopes: str, authorization: str | None = None, service: str = "pullgate") -> str:
        """A pull token from pullgate's token endpoint (GET form)."""
        query = "&".join([f"service={service}", *(f"scope={scope}" for scope in scopes)])
        reply = await call(self.url(f"/auth/token?{query}"), authorization=authorization)
        assert reply.status == 200, reply.body
        token: str = json.loads(reply.body)["token"]
        return token

    async def signing_key(self) -> SigningKey:
        """The key pull tokens are signed with, read from the database as a replica reads it."""
        engine = create_engine(self.pullgate.settings.database.url, pool_size=1)
        try:
            return await SigningKeyStore(session_factory(engine)).current()
        finally:
            await engine.dispose()

    async def push(self, repository: str, tag: str, image: Image | None = None) -> Image:
        image = image or self.images.image()
        await self.push_to(self.upstream, repository, image, tag)
        return image

    async def robot(self, name: str, *repositories: str, registry: str = "*", **extra: Any) -> str:
        """Create a robot that may pull `repositories` (globs); its secret."""
        scopes = [{"registry": registry, "repository": repository} for repository in repositories]
        _, secret = await self.pullgate.services.stores.robots.create(
            name, owner="tests", scopes=scopes, **extra
        )
        return secret

    async def pulls(self, identity: str, count: int = 1) -> list[AuditEventRow]:
        """The pull audit records of `identity`, once at least `count` are written."""
        rows: list[AuditEventRow] = []
        for _ in range(250):
            rows, _ = await self.pullgate.services.stores.audit.query_events(client=identity, kind="pull")
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {count} pulls audited for {identity}: {rows}")


MakeAuthWorld = Callable[..., Awaitable[AuthWorld]]


@pytest.fixture
def make_auth_world(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: Callable[..., Awaitable[str]],
) -> MakeAuthWorld:
    async def make(
        *,
        pull_auth: dict[str, Any] | None = None,
        upstreams: Sequence[dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> AuthWorld:
        upstreams = list(upstreams or [upstream_entry(upstream_registry)])
        settings = {"enabled": True, **(pull_auth or {})}
        pullgate = await make_pullgate(upstreams, gate=FAST_AUDIT, pull_auth=settings, **overrides)
        return AuthWorld(pullgate, upstream_registry, image_factory, push_to)

    return make


@pytest.fixture
async def auth_world(make_auth_world: MakeAuthWorld) -> AuthWorld:
    return await make_auth_world()
