"""The admin API's test world: pullgate over a real upstream, an admin and an auditor token,
and clients that validate every answer against the served OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.integration.admin.client import AdminClient, OpenAPI
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import ALLOW_ALL, MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry

# Pull audit records are batched; a short flush keeps tests that read them quick.
FAST_AUDIT = {"audit_flush_interval": 0.02}


@dataclass
class Pull:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error(self) -> dict[str, Any]:
        entry: dict[str, Any] = json.loads(self.body)["errors"][0]
        return entry


@dataclass
class World:
    pullgate: Pullgate
    upstream: RunningRegistry
    admin: AdminClient
    auditor: AdminClient
    anonymous: AdminClient
    images: ImageFactory
    push_to: Callable[..., Awaitable[str]]

    async def push(self, repository: str, tag: str, image: Image | None = None) -> Image:
        image = image or self.images.image()
        await self.push_to(self.upstream, repository, image, tag)
        return image

    async def pull(self, repository: str, reference: str) -> Pull:
        url = f"{self.pullgate.url}/v2/{repository}/manifests/{reference}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"Accept": MANIFEST_ACCEPT, "User-Agent": "admin-tests"}) as resp,
        ):
            return Pull(resp.status, dict(resp.headers), await resp.read())

    async def audited(self, count: int, **filters: str) -> list[dict[str, Any]]:
        """Audit events matching `filters` once at least `count` are written (they are batched)."""
        for _ in range(200):
            answer = await self.admin.get("/audit", limit="1000", **filters)
            items: list[dict[str, Any]] = answer.json["items"]
            if len(items) >= count:
                return items
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {count} audit events matching {filters}: {items}")

    @property
    def upstream_name(self) -> str:
        return self.upstream.host


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
def make_world(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: Callable[..., Awaitable[str]],
) -> MakeWorld:
    async def make(
        policy: str | None = ALLOW_ALL, *, more_upstreams: Sequence[dict[str, Any]] = (), **overrides: Any
    ) -> World:
        gate = {**FAST_AUDIT, **overrides.pop("gate", {})}
        upstreams = [upstream_entry(upstream_registry), *more_upstreams]
        pullgate = await make_pullgate(upstreams, policy=policy, gate=gate, **overrides)
        tokens = pullgate.services.stores.tokens
        _, admin_token = await tokens.create_token("ci-admin", "admin")
        _, auditor_token = await tokens.create_token("ci-auditor", "auditor")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{pullgate.url}/api/v1/openapi.json") as resp,
        ):
            assert resp.status == 200
            openapi = OpenAPI(await resp.json())
        anonymous = AdminClient(pullgate.url, None, openapi)
        return World(
            pullgate=pullgate,
            upstream=upstream_registry,
            admin=anonymous.as_(admin_token),
            auditor=anonymous.as_(auditor_token),
            anonymous=anonymous,
            images=image_factory,
            push_to=push_to,
        )

    return make


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    return await make_world()
