"""pullgate itself under test: the real application on a loopback port, in the test's loop.

`make_pullgate(upstreams, **settings)` builds settings the way an operator would (a YAML-like
mapping validated by `Settings`), migrates the database, and serves `build_app(settings)`
with aiohttp's test server. Prometheus counters are read back over HTTP through `metric()`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from db.migrate import upgrade
from proxy.api.context import SERVICES, Services
from proxy.app import build_app
from proxy.policy.document import parse_policy_document
from proxy.settings import Settings
from tests.support.registry import RunningRegistry

__all__ = ["ALLOW_ALL", "MakePullgate", "Pullgate", "app_database", "make_pullgate", "upstream_entry"]


@dataclass
class Pullgate:
    server: TestServer
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def services(self) -> Services:
        return self.server.app[SERVICES]

    @property
    def store_root(self) -> Path:
        return self.settings.storage.path

    async def apply_policy(self, text: str) -> int:
        """Replace the policy (YAML), as `pullgate policy apply` does; the new version."""
        document = parse_policy_document(text)
        version, _ = await self.services.stores.policies.replace_all(
            document.to_rules(), document.default_action, document.to_sections()
        )
        self.services.gate.forget()
        return version

    async def fills_done(self) -> None:
        """Wait for blob fills to be committed: a client gets the last verified byte before
        the content is made durable and published, so the store may lag the client a little."""
        await asyncio.wait_for(self.services.gate.mirror.blobs.idle(), 30)

    async def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus sample (``_total`` counters included) matching the labels."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/metrics") as resp:
            text = await resp.text()
        total = 0.0
        for line in text.splitlines():
            match = re.match(rf"^{re.escape(name)}(?:_total)?(\{{.*\}})?\s+(\S+)$", line)
            if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
                total += float(match.group(2))
        return total


def upstream_entry(
    registry: RunningRegistry | str, *, name: str | None = None, default: bool = True, **extra: Any
) -> dict[str, Any]:
    url = registry if isinstance(registry, str) else registry.url
    host = url.split("://", 1)[1]
    return {"name": name or host, "url": url, "default": default, **extra}


MakePullgate = Callable[..., Awaitable[Pullgate]]

# Mirror tests are about the mirror: they run under an explicit allow-everything policy.
ALLOW_ALL = """
default_action: deny
rules:
  - {id: allow-all, match: {repository: "**"}, action: allow, description: mirror tests}
"""


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and key in merged else value
    return merged


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_database(request: pytest.FixtureRequest) -> str:
    """The database pullgates made by `make_pullgate` use: every app-level test runs on SQLite
    and on PostgreSQL. Requested by `make_pullgate`, so it is set up before the server and
    dropped only after the server has stopped (a graceful stop still writes the audit log)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def make_pullgate(app_database: str, aiohttp_server: Any, tmp_path: Path) -> MakePullgate:
    counter = 0

    async def make(
        upstreams: list[dict[str, Any]],
        *,
        database_url: str | None = None,
        policy: str | None = ALLOW_ALL,
        **overrides: Any,
    ) -> Pullgate:
        nonlocal counter
        counter += 1
        url = database_url or app_database
        document = _merge(
            {
                "listen": "127.0.0.1:5000",
                "storage": {"path": str(tmp_path / f"pullgate{counter}" / "blobs")},
                "database": {"url": url},
                "upstreams": upstreams,
                "upstream_client": {"retries": 1, "backoff_initial": 0.01, "read_timeout": 5},
                "log": {"access_log": False},
                # Tests build hundreds of apps in one process: freezing would keep their garbage.
                "server": {"gc_freeze": False},
                # The cheapest scrypt allowed: every admin test makes tokens; the default
                # parameters are tested where they matter (tests/unit/test_credential_hash.py).
                "auth": {"kdf": {"log2_n": 10}},
            },
            overrides,
        )
        settings = Settings.model_validate(document)
        # env.py runs its own event loop: migrate from a worker thread.
        await asyncio.to_thread(upgrade, url)
        server = await aiohttp_server(build_app(settings))
        pullgate = Pullgate(server, settings)
        if policy is not None:
            await pullgate.apply_policy(policy)
        return pullgate

    return make
