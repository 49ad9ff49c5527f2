"""Disk full, for real: pullgate's store on a small tmpfs, a blob bigger than the space left.

The clients of the fill still get the whole blob, verified, streamed from memory once the
spool file can take no more; nothing half-written is kept; the operator gets an error line
and a counter to alert on; once space is freed the next pull caches normally.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from proxy.oci.digest import Digest
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.relay import Relay
from tests.support.tmpfs import fill_up, free_bytes, mounted_tmpfs

MiB = 1024 * 1024
CLIENTS = 3


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    # The database is not what runs out of space here (see test_database_full.py), so one
    # backend is enough; it lives outside the tmpfs.
    return sqlite_url


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", 16 * MiB) as disk:
        yield disk


async def test_a_blob_bigger_than_the_free_space_is_still_served_whole_and_not_kept(
    make_pullgate: MakePullgate,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
    small_disk: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = image_factory.image(9 * MiB)
    await push_to(upstream_relay.upstream_url, "library/big", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_relay)], storage={"path": str(small_disk / "store")}
    )
    filler = small_disk / "filler"
    fill_up(filler, leave=5 * MiB)  # about 5 MiB left: the layer is 9 MiB
    layer = image.layer_digests[0]
    hold = upstream_relay.hold(f"/blobs/{layer}", after=2 * MiB)

    async with aiohttp.ClientSession() as session:
        await _manifest(session, pullgate, "library/big", image)
        with caplog.at_level(logging.ERROR, logger="proxy.cache.fill_copy"):
            # Every client joins the one fill while its spool file is still being written.
            responses = [await session.get(_blob_url(pullgate, "library/big", layer)) for _ in range(CLIENTS)]
            await asyncio.to_thread(hold.wait_reached)
            first = [await response.content.readexactly(MiB) for response in responses]
            hold.release()
            bodies = [head + await response.read() for head, response in zip(first, responses, strict=True)]

        for response, body in zip(responses, bodies, strict=True):
            assert response.status == 200
            assert len(body) == len(image.blobs[layer]) and Digest.of(body) == Digest.parse(layer)
        assert upstream_relay.count("GET", f"/blobs/{layer}") == 1, "one fetch served every client"
        assert not _stored(pullgate, layer)
        assert list((small_disk / "store" / "_uploads").iterdir()) == [], "the partial spool file is gone"
        assert _recorded_size(pullgate, layer) is None
        assert await pullgate.metric("pullgate_storage_write_errors", reason="enospc") == 1
        [alert] = [r for r in caplog.records if r.levelno == logging.ERROR]
        message = alert.getMessage()
        assert message.startswith(f"storage full: cannot cache {layer}")
        assert str(small_disk / "store" / "_uploads") in message and "more bytes needed" in message

        filler.unlink()  # the operator frees space
        assert free_bytes(small_disk) > len(image.blobs[layer])
        async with session.get(_blob_url(pullgate, "library/big", layer)) as response:
            assert response.status == 200 and await response.read() == image.blobs[layer]
    assert _stored(pullgate, layer)
    assert _recorded_size(pullgate, layer) == len(image.blobs[layer])
    assert await pullgate.metric("pullgate_storage_write_errors") == 1


async def test_a_full_disk_before_the_fill_starts_streams_from_memory_alone(
    make_pullgate: MakePullgate,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
    small_disk: Path,
) -> None:
    image = image_factory.image(3 * MiB)
    await push_to(upstream_relay.upstream_url, "library/small", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_relay)], storage={"path": str(small_disk / "store")}
    )
    layer = image.layer_digests[0]
    async with aiohttp.ClientSession() as session:
        await _manifest(session, pullgate, "library/small", image)
        fill_up(small_disk / "filler")  # not a byte left
        async with session.get(_blob_url(pullgate, "library/small", layer)) as response:
            assert response.status == 200 and await response.read() == image.blobs[layer]
        async with session.get(
            _blob_url(pullgate, "library/small", layer), headers={"Range": "bytes=0-9"}
        ) as response:
            assert response.status == 503, "a range needs stored content: retry later, never wrong bytes"
    assert not _stored(pullgate, layer)
    assert list((small_disk / "store" / "_uploads").iterdir()) == []
    assert await pullgate.metric("pullgate_storage_write_errors", reason="enospc") == 2


async def _manifest(session: aiohttp.ClientSession, pullgate: Pullgate, repo: str, image: Image) -> None:
    url = f"{pullgate.url}/v2/{repo}/manifests/1"
    async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as response:
        assert response.status == 200 and await response.read() == image.manifest_bytes


def _blob_url(pullgate: Pullgate, repo: str, digest: str) -> str:
    return f"{pullgate.url}/v2/{repo}/blobs/{digest}"


def _stored(pullgate: Pullgate, digest: str) -> bool:
    parsed = Digest.parse(digest)
    return (pullgate.store_root / "blobs" / "sha256" / parsed.encoded[:2] / parsed.encoded).exists()


def _recorded_size(pullgate: Pullgate, digest: str) -> int | None:
    """What the metadata says is stored (`stored_objects`), read behind pullgate's back."""
    path = pullgate.settings.database.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT size FROM stored_objects WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else int(row[0])
