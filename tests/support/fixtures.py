"""Pytest fixtures for the local test world, registered from ``tests/conftest.py``.

Everything here is synchronous and function-scoped: a registry starts in about 0.1 s,
containerd in well under a second, and in-process servers run in their own threads, so
fixtures never depend on the test's event loop and tests never share state. A missing
tool fails the test at set-up (``ToolError``); it is never skipped.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.auth import Auth
from tests.support.faulty import FaultyRegistry
from tests.support.images import Image, ImageFactory, Index
from tests.support.push import push_image
from tests.support.registry import (
    RunningRegistry,
    start_htpasswd_registry,
    start_registry,
    start_token_registry,
)
from tests.support.relay import Relay
from tests.support.runtimes import Containerd, Podman, make_podman, start_containerd
from tests.support.tokens import TokenServer

__all__ = [
    "PushTo",
    "containerd",
    "faulty_registry",
    "htpasswd_registry",
    "image_factory",
    "podman",
    "push_to",
    "token_registry",
    "token_server",
    "upstream_registry",
    "upstream_relay",
]

PushTo = Callable[..., Awaitable[str]]


def _report(request: pytest.FixtureRequest, what: str, log: Path) -> None:
    """Say where a process logs; pytest shows captured output only when the test fails."""
    print(f"[{request.fixturename}] {what} log: {log}")


@pytest.fixture
def upstream_registry(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningRegistry]:
    """An anonymous ``docker-registry`` with empty storage."""
    with start_registry(tmp_path / "world", name="upstream") as registry:
        _report(request, "registry", registry.log_path)
        yield registry


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    """Token server: user ``alice``/``wonderland``, anonymous callers may pull."""
    with TokenServer(users={"alice": "wonderland"}, allow_anonymous=True) as server:
        yield server


@pytest.fixture
def token_registry(
    tmp_path: Path, token_server: TokenServer, request: pytest.FixtureRequest
) -> Iterator[RunningRegistry]:
    """A registry with ``auth: token`` trusting ``token_server``."""
    with start_token_registry(tmp_path / "world", token_server) as registry:
        _report(request, "registry", registry.log_path)
        yield registry


@pytest.fixture
def htpasswd_registry(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningRegistry]:
    """A registry with ``auth: htpasswd``; ``.credentials`` is ``("alice", "wonderland")``."""
    with start_htpasswd_registry(tmp_path / "world") as registry:
        _report(request, "registry", registry.log_path)
        yield registry


@pytest.fixture
def upstream_relay(upstream_registry: RunningRegistry) -> Iterator[Relay]:
    """A counting relay in front of ``upstream_registry``."""
    with Relay(upstream_registry.url) as relay:
        yield relay


@pytest.fixture
def faulty_registry() -> Iterator[FaultyRegistry]:
    with FaultyRegistry() as registry:
        yield registry


@pytest.fixture
def containerd(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Containerd]:
    """An isolated containerd; pull with ``runtimes.ctr_pull(containerd, ref, hosts_dir)``."""
    with start_containerd(tmp_path / "containerd") as daemon:
        _report(request, "containerd", daemon.log_path)
        yield daemon


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    """Podman confined to the test's temp dir, no registry rewrites (see ``make_podman``)."""
    with make_podman(tmp_path / "podman") as runtime:
        yield runtime


@pytest.fixture
def image_factory(request: pytest.FixtureRequest) -> ImageFactory:
    """Builds images seeded from the test's id: different per test, identical across runs."""
    return ImageFactory(zlib.crc32(request.node.nodeid.encode()) << 16)


@pytest.fixture
def push_to() -> PushTo:
    """``await push_to(registry, repo, image, tag=None)``: push with whatever auth it needs."""

    async def push(
        registry: RunningRegistry | str, repo: str, image: Image | Index, tag: str | None = None
    ) -> str:
        if isinstance(registry, str):
            return await push_image(registry, repo, image, tag)
        auth: Auth = registry.auth_for(repo)
        return await push_image(registry.url, repo, image, tag, auth=auth)

    return push
