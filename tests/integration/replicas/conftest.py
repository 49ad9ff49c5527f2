"""Replicas: real `pullgate serve` processes sharing one PostgreSQL database and one store.

Every test module here is marked ``postgres`` (the machine and CI run the server);
``make_replicas(**settings)`` starts two replicas with the settings merged over the
shared config, and ``Admin`` speaks the admin API of one replica with the shared token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.registry import RunningRegistry
from tests.support.replicas import Replica, ReplicaSet, start_replicas
from tests.support.s3 import s3_server  # noqa: F401  (the S3 variants of the replica tests)

MakeReplicas = Callable[..., ReplicaSet]


@pytest.fixture
def make_replicas(
    tmp_path: Path, postgresql_url: str, upstream_registry: RunningRegistry
) -> Iterator[MakeReplicas]:
    with contextlib.ExitStack() as stack:

        def make(**settings: Mapping[str, Any]) -> ReplicaSet:
            return stack.enter_context(
                start_replicas(tmp_path / "replicas", postgresql_url, upstream_registry, settings=settings)
            )

        yield make


@dataclass
class Answer:
    status: int
    json: Any


@dataclass
class Admin:
    """The admin API of one replica, as the shared admin token."""

    replica: Replica
    token: str

    async def request(self, method: str, path: str, body: str | None = None, **params: str) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/yaml"
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.replica.url}/api/v1{path}", params=params, data=body, headers=headers
            ) as resp,
        ):
            return Answer(resp.status, await resp.json(content_type=None))

    async def get(self, path: str, **params: str) -> Answer:
        return await self.request("GET", path, **params)

    async def put_policy(self, document: str) -> None:
        answer = await self.request("PUT", "/policy", document)
        assert answer.status == 200, answer.json
