"""Admin request bodies are bounded in size and in time: 413 past the size limit whether the
client declares a length or streams chunks, 408 when a body stalls; nothing is applied."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from tests.integration.admin.conftest import MakeWorld, World

RULE = {"id": "r1", "match": {"repository": "library/*"}, "action": "allow"}


async def _chunks(total: int, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length: the cap must count what arrives."""
    yield b'{"id": "big", "description": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


async def _policy_version(world: World) -> int:
    answer = await world.admin.get("/policy")
    return int(answer.json["version"])


async def test_bodies_over_the_limits_are_413_declared_or_chunked(world: World) -> None:
    version = await _policy_version(world)
    chunked = await world.admin.request(
        "POST", "/rules", data=_chunks(128 * 1024), headers={"Content-Type": "application/json"}
    )
    assert (chunked.status, chunked.error["code"]) == (413, "payload_too_large")
    assert "larger than 65536 bytes" in chunked.error["message"]
    document = "rules:\n" + "".join(
        f"  - {{id: r{i}, match: {{repository: 'team{i}/**'}}, action: allow, description: '{'x' * 200}'}}\n"
        for i in range(40_000)
    )
    assert len(document) > 8 * 1024 * 1024
    declared = await world.admin.request(
        "PUT", "/policy", data=document, headers={"Content-Type": "application/yaml"}
    )
    assert (declared.status, declared.error["code"]) == (413, "payload_too_large")
    assert "larger than 8388608 bytes" in declared.error["message"]

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(document), 1 << 20):
            yield document[start : start + (1 << 20)].encode()

    chunked_policy = await world.admin.request(
        "PUT", "/policy", data=streamed(), headers={"Content-Type": "application/yaml"}
    )
    assert (chunked_policy.status, chunked_policy.error["code"]) == (413, "payload_too_large")
    assert await _policy_version(world) == version
    assert (await world.admin.get("/rules/big")).status == 404


async def test_a_stalled_body_is_408_and_the_connection_closed(make_world: MakeWorld) -> None:
    world = await make_world(server={"request_body_timeout": "1s"})
    token = world.admin.token
    reader, writer = await asyncio.open_connection("127.0.0.1", world.pullgate.server.port)
    body = json.dumps(RULE).encode()
    writer.write(
        b"POST /api/v1/rules HTTP/1.1\r\nHost: pullgate\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]  # and then nothing
    )
    await writer.drain()
    async with asyncio.timeout(30):
        answer = await reader.read()  # everything, up to the server closing the connection
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head
    error = json.loads(payload)["error"]
    assert error["code"] == "request_timeout" and "within 1 s" in error["message"]
    assert b"X-Content-Type-Options: nosniff" in head  # the admin API's headers, errors included
    writer.close()
    assert (await world.admin.get("/rules/r1")).status == 404
