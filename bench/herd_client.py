"""Pulling clients for the herd scenarios: one process hosts several independent clients.

``python -m bench.herd_client BASE_URL REPO TAG CLIENTS`` gives each client its own session
(own connections) and opens one connection each (``GET /v2/``), prints ``ready`` and waits
for a line on stdin, so that every client of a herd starts at the same moment. Then each
pulls like a runtime does: the manifest by tag, then every blob at once, hashing each body
and checking digest and size. The process prints one JSON line, a list with each client's
start and end (``time.monotonic()``, comparable across processes), bytes and errors, and
waits for the next line (another pull, e.g. now cached) until stdin closes.

A few processes hosting many clients keep the start-up cost of a 32-client herd low; the
per-byte work (receive, hash) is the same as with one process per client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from typing import Any

import aiohttp

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_CHUNK = 1024 * 1024


async def _blob(
    session: aiohttp.ClientSession, base: str, repo: str, digest: str, size: int
) -> tuple[int, str | None]:
    hasher = hashlib.sha256()
    received = 0
    async with session.get(f"{base}/v2/{repo}/blobs/{digest}") as response:
        if response.status != 200:
            return 0, f"{digest}: HTTP {response.status}"
        async for chunk in response.content.iter_chunked(_CHUNK):
            hasher.update(chunk)
            received += len(chunk)
    if received != size:
        return received, f"{digest}: {received} bytes instead of {size}"
    if "sha256:" + hasher.hexdigest() != digest:
        return received, f"{digest}: content does not match its digest"
    return received, None


async def _pull_image(session: aiohttp.ClientSession, base: str, repo: str, tag: str) -> dict[str, Any]:
    async with session.get(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT}) as response:
        body = await response.read()
        if response.status != 200:
            return {"bytes": 0, "errors": [f"manifest: HTTP {response.status}: {body[:200]!r}"]}
    manifest = json.loads(body)
    blobs = [manifest["config"], *manifest.get("layers", [])]
    results = await asyncio.gather(*(_blob(session, base, repo, b["digest"], b["size"]) for b in blobs))
    errors = [error for _, error in results if error is not None]
    return {"bytes": sum(size for size, _ in results) + len(body), "errors": errors, "blobs": len(blobs)}


async def _client_pull(session: aiohttp.ClientSession, base: str, repo: str, tag: str) -> dict[str, Any]:
    start = time.monotonic()
    try:
        result = await _pull_image(session, base, repo, tag)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        result = {"bytes": 0, "errors": [f"{type(exc).__name__}: {exc}"]}
    return {"start": start, "end": time.monotonic(), **result}


async def _session(base: str) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    session = aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
    )
    async with session.get(f"{base}/v2/") as response:
        await response.read()
    return session


async def main(base: str, repo: str, tag: str, clients: int) -> int:
    sessions = [await _session(base) for _ in range(clients)]
    failed = False
    try:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            reports = await asyncio.gather(*(_client_pull(s, base, repo, tag) for s in sessions))
            failed = failed or any(report["errors"] for report in reports)
            print(json.dumps(reports), flush=True)
    finally:
        for session in sessions:
            await session.close()
    return 1 if failed else 0


def _cli() -> int:
    base, repo, tag = sys.argv[1:4]
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return asyncio.run(main(base, repo, tag, clients))
    return uvloop.run(main(base, repo, tag, clients))


if __name__ == "__main__":
    sys.exit(_cli())
