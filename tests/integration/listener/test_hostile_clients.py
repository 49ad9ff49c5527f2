"""Clients that hold connections without finishing requests: slowloris heads, thousands of
idle sockets, more connections than the cap, keep-alive connections that never end.

Each test runs a real `pullgate serve` with short deadlines and drives it over raw sockets,
while a normal client (skopeo) pulls through the same listener.
"""

from __future__ import annotations

import asyncio
import re
import resource
from pathlib import Path

import aiohttp

from tests.integration.listener.conftest import StartPullgate
from tests.integration.listener.wire import closed_by_server, connect, exchange, request_bytes
from tests.support.images import ImageFactory
from tests.support.pullgate import upstream_entry
from tests.support.pullgate_process import PullgateProcess
from tests.support.push import skopeo_copy
from tests.support.registry import RunningRegistry

SLOW_HEAD = b"GET /v2/ HTTP/1.1\r\nHost: pullgate\r\nUser-Agent: one-byte-a-second\r\nAccept: */*\r\n\r\n"


async def _pull(pullgate: PullgateProcess, tmp_path: Path, name: str) -> None:
    await skopeo_copy(f"docker://{pullgate.host}/library/demo:1", f"dir:{tmp_path / name}")
    assert (tmp_path / name / "manifest.json").is_file()


async def _metric(pullgate: PullgateProcess, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{pullgate.url}/metrics") as resp:
        text = await resp.text()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:_total)?(\{{.*\}})?\s+(\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def _trickle(writer: asyncio.StreamWriter, data: bytes, pause: float = 1.0) -> None:
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(pause)


async def test_slowloris_heads_are_cut_at_the_deadline_while_others_pull(
    serve_pullgate: StartPullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    await push_to(upstream_registry, "library/demo", image_factory.image(200_000), "1")
    pullgate = await serve_pullgate(
        [upstream_entry(upstream_registry)], server={"request_head_timeout": "2s"}
    )
    slow = [await connect("127.0.0.1", pullgate.port) for _ in range(20)]
    # A kept-alive connection: one prompt request, then the next one trickles (re-armed deadline).
    reader, writer = await connect("127.0.0.1", pullgate.port)
    assert (await exchange(reader, writer, request_bytes("GET", "/v2/"))).status == 200
    slow.append((reader, writer))
    trickles = [asyncio.create_task(_trickle(w, SLOW_HEAD)) for _, w in slow]
    try:
        await _pull(pullgate, tmp_path, "normal")  # meanwhile a normal client is served
        endings = await asyncio.gather(*(closed_by_server(r) for r, _ in slow))
    finally:
        for task in trickles:
            task.cancel()
        await asyncio.gather(*trickles, return_exceptions=True)
    for ending in endings:
        head, _, body = ending.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 Request Timeout"), ending[:200]
        assert b"Connection: close" in head
        assert b'"code": "REQUEST_TIMEOUT"' in body and b"within 2 s" in body
    assert await _metric(pullgate, "pullgate_listener_refusals", reason="head_timeout") == len(slow)
    await _pull(pullgate, tmp_path, "after")


async def test_thousands_of_idle_connections_are_closed_and_the_cap_refuses_cleanly(
    serve_pullgate: StartPullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this test process holds them all
    await push_to(upstream_registry, "library/demo", image_factory.image(200_000), "1")
    idle_count, cap = 1990, 2000
    pullgate = await serve_pullgate(
        [upstream_entry(upstream_registry)],
        server={"request_head_timeout": "6s", "max_connections": cap},
        # Started with a low soft limit: serve raises it to the hard limit and says so.
        preexec=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
    )
    await pullgate.wait_for_log(lambda line: f"open-file limit from 1024 to {hard}" in line["msg"])
    await _pull(pullgate, tmp_path, "warm")
    baseline = pullgate.open_fds()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(idle_count // 199 + 1):
            wanted = min(199, idle_count - len(idle))
            idle += await asyncio.gather(*(connect("127.0.0.1", pullgate.port) for _ in range(wanted)))
        extra = await asyncio.gather(*(connect("127.0.0.1", pullgate.port) for _ in range(30)))
        answers = await asyncio.gather(*(exchange(r, w, request_bytes("GET", "/v2/")) for r, w in extra))
        refused = [a for a in answers if a.status == 503]
        assert len(refused) == 30 - (cap - idle_count), [a.status for a in answers]
        assert all(a.status == 200 for a in answers if a not in refused)
        for answer in refused:
            assert answer.oci_code == "UNAVAILABLE" and "maximum of 2000 connections" in answer.body.decode()
            assert answer.headers["Retry-After"] == "1" and answer.headers["Connection"] == "close"
        for _, writer in extra:
            writer.close()
        assert pullgate.open_fds().clients >= idle_count  # all still held open...
        await _pull(pullgate, tmp_path, "during")  # ...while a normal client is served
        # The idle ones sent nothing: past the deadline they are closed without a word.
        leftovers = await asyncio.gather(*(closed_by_server(r) for r, _ in idle))
        assert set(leftovers) == {b""}
    finally:
        for _, writer in idle:
            writer.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    await _wait_for_fds(pullgate, baseline.rest)
    assert await _metric(pullgate, "pullgate_listener_refusals", reason="idle") >= idle_count
    assert await _metric(pullgate, "pullgate_listener_refusals", reason="capacity") == len(refused)


async def _wait_for_fds(pullgate: PullgateProcess, rest: int) -> None:
    for _ in range(300):
        now = pullgate.open_fds()
        if now.clients == 0 and now.store == 0 and now.rest <= rest:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"descriptors did not return to the baseline of {rest}: {pullgate.open_fds()}")


async def test_keep_alive_ends_after_max_requests_and_idle_timeout(
    serve_pullgate: StartPullgate, upstream_registry: RunningRegistry
) -> None:
    pullgate = await serve_pullgate(
        [upstream_entry(upstream_registry)],
        server={"max_requests_per_connection": 3, "keepalive_timeout": "1s"},
    )
    reader, writer = await connect("127.0.0.1", pullgate.port)
    answers = [await exchange(reader, writer, request_bytes("GET", "/v2/")) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.headers.get("Connection") for a in answers] == [None, None, "close"]
    assert await closed_by_server(reader) == b""
    # Kept alive, then left idle: closed silently once the idle timeout passes.
    reader, writer = await connect("127.0.0.1", pullgate.port)
    assert (await exchange(reader, writer, request_bytes("GET", "/v2/"))).status == 200
    assert await closed_by_server(reader) == b""
    assert await _metric(pullgate, "pullgate_listener_refusals") == 0  # neither was a refusal
