"""Retries: what is retried, how often, and how long we wait."""

from __future__ import annotations

import socket
import time

import pytest
from aiohttp import web

from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from proxy.upstream import UpstreamError, UpstreamErrorKind
from proxy.upstream.retry import RetryPolicy

REPO = RepositoryName.parse("team/app")
MANIFEST = b'{"schemaVersion": 2}'


def _scripted(statuses: list[tuple[int, dict[str, str]]]):
    """An app answering manifest requests with `statuses` in turn, then 200; counts calls."""
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) <= len(statuses):
            status, headers = statuses[len(calls) - 1]
            return web.json_response({"errors": [{"code": "UNAVAILABLE"}]}, status=status, headers=headers)
        return web.Response(body=MANIFEST, content_type="application/vnd.oci.image.manifest.v1+json")

    app = web.Application()
    app.router.add_get("/v2/team/app/manifests/{reference}", handler)
    return app, calls


async def test_server_error_then_success_is_retried(serve, make_upstream) -> None:
    app, calls = _scripted([(500, {})])
    upstream = await make_upstream(await serve(app))

    assert (await upstream.get_manifest(REPO, "v1")).data == MANIFEST
    assert len(calls) == 2


async def test_server_error_forever_gives_up_after_retries(serve, make_upstream) -> None:
    app, calls = _scripted([(500, {})] * 100)
    upstream = await make_upstream(await serve(app), retries=3)

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")

    assert caught.value.kind is UpstreamErrorKind.UNAVAILABLE
    assert caught.value.status == 500
    assert len(calls) == 4  # the first attempt and three retries


async def test_rate_limit_with_short_retry_after_is_waited_out(serve, make_upstream) -> None:
    app, calls = _scripted([(429, {"Retry-After": "0"}), (503, {"Retry-After": "0.2"})])
    upstream = await make_upstream(await serve(app))

    assert (await upstream.get_manifest(REPO, "v1")).data == MANIFEST
    assert len(calls) == 3
    assert calls[2] - calls[1] >= 0.2


async def test_rate_limit_with_long_retry_after_fails_fast(serve, make_upstream) -> None:
    app, calls = _scripted([(429, {"Retry-After": "120"})])
    upstream = await make_upstream(await serve(app), retry_after_max=10)

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")

    err = caught.value
    assert (err.kind, err.status, err.retry_after) == (UpstreamErrorKind.RATE_LIMITED, 429, 120.0)
    assert err.temporary
    assert len(calls) == 1


async def test_blob_open_is_retried_before_the_first_byte(serve, make_upstream) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503) if calls == 1 else web.Response(body=b"blob")

    app = web.Application()
    app.router.add_get("/v2/team/app/blobs/{digest}", handler)
    upstream = await make_upstream(await serve(app))

    async with upstream.open_blob(REPO, Digest.of(b"blob")) as stream:
        assert [chunk async for chunk in stream.chunks(1024)] == [b"blob"]
    assert calls == 2


async def test_not_found_is_not_retried(serve, make_upstream) -> None:
    app, calls = _scripted([(404, {})])
    upstream = await make_upstream(await serve(app))

    with pytest.raises(UpstreamError):
        await upstream.get_manifest(REPO, "v1")
    assert len(calls) == 1


async def test_connection_refused_is_unavailable(make_upstream) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    upstream = await make_upstream(f"http://127.0.0.1:{port}")

    with pytest.raises(UpstreamError) as caught:
        await upstream.get_manifest(REPO, "v1")

    assert caught.value.kind is UpstreamErrorKind.UNAVAILABLE
    assert f"127.0.0.1:{port}" in str(caught.value)


# -- the policy itself ------------------------------------------------------------------


def _error(kind: UpstreamErrorKind, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError("u", kind, "m", retry_after=retry_after)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(retries=10, backoff_initial=0.1, backoff_max=1.0, retry_after_max=5)
    for attempt, ceiling in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)]:
        delays = {policy.backoff(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


@pytest.mark.parametrize(
    ("err", "attempt", "expected"),
    [
        (_error(UpstreamErrorKind.NOT_FOUND), 0, None),
        (_error(UpstreamErrorKind.PROTOCOL), 0, None),
        (_error(UpstreamErrorKind.UNAUTHORIZED), 0, None),
        (_error(UpstreamErrorKind.UNAVAILABLE), 2, None),  # retries used up
        (_error(UpstreamErrorKind.RATE_LIMITED, retry_after=3), 0, 3),
        (_error(UpstreamErrorKind.UNAVAILABLE, retry_after=6), 0, None),  # longer than retry_after_max
    ],
)
def test_retry_decisions(err: UpstreamError, attempt: int, expected: float | None) -> None:
    policy = RetryPolicy(retries=2, backoff_initial=0.1, backoff_max=1.0, retry_after_max=5)
    assert policy.delay(err, attempt) == expected


async def test_non_idempotent_requests_are_not_retried() -> None:
    policy = RetryPolicy(retries=5, backoff_initial=0, backoff_max=0, retry_after_max=5)
    attempts = 0

    async def operation() -> None:
        nonlocal attempts
        attempts += 1
        raise _error(UpstreamErrorKind.UNAVAILABLE)

    with pytest.raises(UpstreamError):
        await policy.run(operation, method="POST")
    assert attempts == 1
    with pytest.raises(UpstreamError):
        await policy.run(operation, method="GET")
    assert attempts == 1 + 6
