"""Content damaged on disk after it was verified is never served as if it were intact.

Manifests are re-hashed whenever they are read from the store: a flipped bit is caught,
the file removed and the manifest fetched again (or, with the upstream down, refused).
Blobs are not re-hashed on every read (they go out with sendfile): one cut short is caught
by its size and fetched again; a same-size change is left to the client's own digest check
(docs: "Crash safety and durability").
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from proxy.oci.digest import Digest
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    return sqlite_url  # about the store: one database backend is enough


async def test_a_manifest_damaged_on_disk_is_caught_and_fetched_again_or_refused(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = image_factory.image(1000)
    await push_to(upstream_registry, "library/demo", image, "1")
    upstream, storage = [upstream_entry(upstream_registry)], {"path": str(tmp_path / "store")}
    first = await make_pullgate(upstream, storage=storage)
    assert await _manifest(first, "library/demo") == (200, image.manifest_bytes)
    stored = _content_path(first, image.digest)
    _flip_a_bit(stored)

    # A restarted pullgate (nothing in memory) reads the damaged file: re-hashed, refetched.
    restarted = await make_pullgate(upstream, storage=storage)
    with caplog.at_level(logging.ERROR):
        assert await _manifest(restarted, "library/demo") == (200, image.manifest_bytes)
    assert any("does not match its digest" in r.getMessage() for r in caplog.records)
    assert stored.read_bytes() == image.manifest_bytes, "stored again, intact"

    _flip_a_bit(stored)
    upstream_registry.stop()
    offline = await make_pullgate(upstream, storage=storage)
    status, body = await _manifest(offline, "library/demo")
    assert status >= 500 and body != image.manifest_bytes, "damaged bytes are refused, never served"


async def test_a_blob_cut_short_on_disk_is_caught_and_fetched_again(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = image_factory.image(200_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    layer = image.layer_digests[0]
    assert await _manifest(pullgate, "library/demo") == (200, image.manifest_bytes)
    assert await _blob(pullgate, "library/demo", layer) == image.blobs[layer]
    await pullgate.fills_done()
    stored = _content_path(pullgate, layer)
    with stored.open("r+b") as file:  # the machine crashed before the disk had all of it
        file.truncate(len(image.blobs[layer]) // 2)

    with caplog.at_level(logging.ERROR):
        assert await _blob(pullgate, "library/demo", layer) == image.blobs[layer]
    assert any("damaged on disk" in r.getMessage() for r in caplog.records)
    await pullgate.fills_done()
    assert stored.read_bytes() == image.blobs[layer], "fetched and stored again, whole"


async def _manifest(pullgate: Pullgate, repo: str) -> tuple[int, bytes]:
    url = f"{pullgate.url}/v2/{repo}/manifests/1"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp,
    ):
        return resp.status, await resp.read()


async def _blob(pullgate: Pullgate, repo: str, digest: str) -> bytes:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{pullgate.url}/v2/{repo}/blobs/{digest}") as resp,
    ):
        assert resp.status == 200
        return await resp.read()


def _content_path(pullgate: Pullgate, digest: str) -> Path:
    parsed = Digest.parse(digest)
    return pullgate.store_root / "blobs" / parsed.algorithm / parsed.encoded[:2] / parsed.encoded


def _flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
