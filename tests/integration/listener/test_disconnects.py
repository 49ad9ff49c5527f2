"""Clients that hang up halfway through a blob, on a fill (streamed from the spool file while
the upstream sends it) and on a cache hit (sent with sendfile).

Neither may cost pullgate anything: the fill goes on and commits, no descriptor or spool file
stays open, the request is logged and counted as aborted by the client, and the next client
gets the right bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest

from tests.integration.listener.conftest import StartPullgate
from tests.integration.listener.wire import connect, exchange, read_answer, request_bytes
from tests.support.http import http_get
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import upstream_entry
from tests.support.pullgate_process import PullgateProcess
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay

BLOB_BYTES = 30 * 1024 * 1024
SMALL_WINDOW = 64 * 1024  # the client's receive buffer: pullgate cannot park the rest in the kernel


@pytest.fixture
def slow_relay(upstream_registry: RunningRegistry) -> Iterator[Relay]:
    with Relay(upstream_registry.url) as relay:
        yield relay


async def _read_half_and_hang_up(pullgate: PullgateProcess, path: str) -> None:
    reader, writer = await connect("127.0.0.1", pullgate.port, rcvbuf=SMALL_WINDOW)
    writer.write(request_bytes("GET", path))
    answer = await read_answer(reader, head_only=True)
    assert answer.status == 200 and int(answer.headers["Content-Length"]) > BLOB_BYTES
    await reader.readexactly(BLOB_BYTES // 2)
    writer.transport.abort()  # gone, with most of the body unread


async def _aborted_by_client(pullgate: PullgateProcess, path: str, count: int) -> None:
    def aborted(line: dict[str, object]) -> bool:
        return line.get("path") == path and line.get("aborted") == "client"

    await pullgate.wait_for_log(lambda line: sum(map(aborted, pullgate.log_lines())) >= count)


async def _settled(pullgate: PullgateProcess, baseline: int) -> None:
    """Every client connection closed, no store file open, no spool file left, no extra descriptor."""
    for _ in range(300):
        fds = pullgate.open_fds()
        spool = list((pullgate.store_root / "_uploads").iterdir())
        if fds.clients == 0 and fds.store == 0 and not spool and fds.rest <= baseline:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not back to the baseline of {baseline} descriptors: {fds}, spool files {spool}")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_half_read_blobs_on_fill_and_on_hit_cost_nothing(
    serve_pullgate: StartPullgate,
    upstream_registry: RunningRegistry,
    slow_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    image: Image = image_factory.image(BLOB_BYTES)
    await push_to(upstream_registry, "library/demo", image, "1")
    digest = image.layer_digests[0]
    path = f"/v2/library/demo/blobs/{digest}"
    # One upstream connection at most: the descriptor count cannot drift with the pool.
    pullgate = await serve_pullgate([upstream_entry(slow_relay)], upstream_client={"max_connections": 1})
    status, _, _ = await http_get(f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 200
    await http_get(f"{pullgate.url}/v2/library/demo/blobs/{image.config_digest}")
    baseline = pullgate.open_fds().rest

    # 1. On a fill: the upstream sends 64 KiB every 5 ms, so the fill is still arriving when
    # the client hangs up; it must finish and commit all the same, fetched once.
    slow_relay.chunk_delay = 0.005
    await _read_half_and_hang_up(pullgate, path)
    await _aborted_by_client(pullgate, path, 1)
    stored = pullgate.store_root / "blobs" / "sha256" / digest[7:9] / digest[7:]
    for _ in range(300):
        if stored.is_file():
            break
        await asyncio.sleep(0.1)
    assert _sha256(stored.read_bytes()) == digest
    slow_relay.chunk_delay = 0.0
    status, _, body = await http_get(pullgate.url + path)
    assert status == 200 and _sha256(body) == digest
    assert slow_relay.count("GET", f"/blobs/{digest}") == 1
    await _settled(pullgate, baseline)

    # 2. On a cache hit (sendfile): the same, and the server goes on serving.
    await _read_half_and_hang_up(pullgate, path)
    await _aborted_by_client(pullgate, path, 2)
    reader, writer = await connect("127.0.0.1", pullgate.port)
    for _ in range(2):  # a cache hit leaves the connection open for the next request
        answer = await exchange(reader, writer, request_bytes("GET", path))
        assert answer.status == 200 and _sha256(answer.body) == digest
    writer.close()
    await _settled(pullgate, baseline)
    assert slow_relay.count("GET", f"/blobs/{digest}") == 1

    metrics = (await http_get(f"{pullgate.url}/metrics"))[2].decode()
    assert 'pullgate_client_aborts_total{route="blobs"} 2.0' in metrics
    errors = [line for line in pullgate.log_lines() if line["level"] == "error"]
    assert errors == [], errors
