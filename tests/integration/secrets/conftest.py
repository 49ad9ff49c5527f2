"""The stored-credentials test world: pullgate over registries that demand credentials, with a
key ring, admin clients that check every answer against the OpenAPI document, and the raw
database to prove no secret is stored in clear."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.session import create_engine
from proxy.secrets import generate_key
from tests.integration.admin.client import AdminClient, OpenAPI
from tests.support.pullgate import Pullgate
from tests.support.push import MANIFEST_ACCEPT


def key_ring(*ids: str) -> str:
    """A key ring with fresh keys, in the text format (first primary)."""
    return "\n".join(generate_key(key_id) for key_id in ids)


def entries(ring: str) -> dict[str, str]:
    """id -> entry line of a key ring made by `key_ring`."""
    return {line.split(":", 1)[0]: line for line in ring.splitlines()}


@dataclass
class Clients:
    admin: AdminClient
    auditor: AdminClient
    admin_token: str


async def clients(pullgate: Pullgate) -> Clients:
    tokens = pullgate.services.stores.tokens
    _, admin_token = await tokens.create_token("secrets-admin", "admin")
    _, auditor_token = await tokens.create_token("secrets-auditor", "auditor")
    async with aiohttp.ClientSession() as session, session.get(f"{pullgate.url}/api/v1/openapi.json") as resp:
        openapi = OpenAPI(await resp.json())
    anonymous = AdminClient(pullgate.url, None, openapi)
    return Clients(anonymous.as_(admin_token), anonymous.as_(auditor_token), admin_token)


@dataclass
class Pulled:
    status: int
    body: bytes
    blobs: list[bytes]

    @property
    def error(self) -> dict[str, object]:
        entry: dict[str, object] = json.loads(self.body)["errors"][0]
        return entry


async def pull(base: str, repository: str, tag: str) -> Pulled:
    """A manifest by tag and, if it came, every layer."""
    async with aiohttp.ClientSession() as session:
        url = f"{base}/v2/{repository}/manifests/{tag}"
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            body = await resp.read()
            if resp.status != 200:
                return Pulled(resp.status, body, [])
        blobs = []
        for layer in json.loads(body).get("layers", []):
            async with session.get(f"{base}/v2/{repository}/blobs/{layer['digest']}") as resp:
                assert resp.status == 200, await resp.text()
                blobs.append(await resp.read())
        return Pulled(200, body, blobs)


async def execute(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def stored_bytes(url: str) -> bytes:
    """Everything the database holds about credentials, as bytes: each column of each row, and
    for SQLite the database files themselves (main, WAL), where a deleted value may linger."""
    rows = await execute(url, "SELECT * FROM upstream_credentials")
    found = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for row in rows for v in row
    )
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database:
        found += b"".join(path.read_bytes() for path in _sqlite_files(Path(database)))
    return found


def _sqlite_files(database: Path) -> Sequence[Path]:
    return [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-journal")) if p.exists()]
