"""Disk full, for real: pullgate's store on a small tmpfs, a blob bigger than the space left.

The clients of the fill still get the whole blob, verified, streamed from memory once the
spool file can take no more; nothing half-written is kept; the operator gets an error line
and a counter to alert on; once space is freed the next pull caches normally. With the
SQLite database on the full disk too, pullgate fails closed: no manifest is served whose
audit record cannot be committed, and the database comes through intact.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.oci.digest import Digest
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay
from tests.support.tmpfs import fill_up, free_bytes, mounted_tmpfs

MiB = 1024 * 1024
CLIENTS = 3


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    # Outside the tmpfs: the database runs out of space only where a test puts it there.
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


async def test_on_a_full_disk_a_new_image_is_still_served_whole_and_nothing_of_it_kept(
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
    fill_up(small_disk / "filler")  # not a byte left, before the image was ever pulled
    async with aiohttp.ClientSession() as session:
        await _manifest(session, pullgate, "library/small", image)  # verified, served from memory
        async with session.get(_blob_url(pullgate, "library/small", layer)) as response:
            assert response.status == 200 and await response.read() == image.blobs[layer]
        async with session.get(
            _blob_url(pullgate, "library/small", layer), headers={"Range": "bytes=0-9"}
        ) as response:
            assert response.status == 503, "a range needs stored content: retry later, never wrong bytes"
    for digest in (image.digest, layer):
        assert not _stored(pullgate, digest)
        assert _recorded_size(pullgate, digest) is None, "no metadata claims what the store lacks"
    assert list((small_disk / "store" / "_uploads").iterdir()) == []
    # The manifest, the blob, and the blob again for the range.
    assert await pullgate.metric("pullgate_storage_write_errors", reason="enospc") == 3


async def test_with_the_database_on_the_full_disk_too_nothing_is_served_unaudited(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    small_disk: Path,
) -> None:
    cached, fresh = image_factory.image(2000), image_factory.image(2000)
    await push_to(upstream_registry, "library/cached", cached, "1")
    await push_to(upstream_registry, "library/fresh", fresh, "1")
    database = small_disk / "pullgate.db"  # SQLite and its WAL on the same small disk
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)],
        database_url=f"sqlite+aiosqlite:///{database}",
        storage={"path": str(small_disk / "store")},
        gate={"audit_ack_timeout": "1s"},
    )
    layer = cached.layer_digests[0]
    async with aiohttp.ClientSession() as session:
        await _manifest(session, pullgate, "library/cached", cached)
        async with session.get(_blob_url(pullgate, "library/cached", layer)) as response:
            assert response.status == 200
        fill_up(small_disk / "filler")

        # Decided and in memory already, but its audit record cannot be committed: refused.
        refused = await _get_manifest(session, pullgate, "library/cached")
        assert refused[0] == 403 and refused[1]["code"] == "DENIED", refused
        assert "its audit record cannot be written" in refused[1]["message"]
        status, error = await _get_manifest(session, pullgate, "library/fresh")
        assert (status, error["code"]) == (403, "DENIED"), "a new image fails closed"
        assert "database is unavailable" in error["message"], error
        async with session.get(_blob_url(pullgate, "library/cached", layer)) as response:
            # Allowed already and stored: reading needs no write (blob pulls are not audited).
            assert response.status == 200 and await response.read() == cached.blobs[layer]

        (small_disk / "filler").unlink()
        async with asyncio.timeout(30):  # the audit writer retries with backoff
            while (await _get_manifest(session, pullgate, "library/cached"))[0] != 200:
                await asyncio.sleep(0.2)
        await _manifest(session, pullgate, "library/fresh", fresh)
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        pulls = db.execute(
            "SELECT count(*) FROM audit_events WHERE kind = 'pull' AND repository = 'library/cached'"
        ).fetchone()[0]
    assert pulls >= 3, "the refused pull was audited too, once the disk had room"


async def _get_manifest(session: aiohttp.ClientSession, pullgate: Pullgate, repo: str) -> tuple[int, Any]:
    """(status, the OCI error or None)."""
    url = f"{pullgate.url}/v2/{repo}/manifests/1"
    async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as response:
        if response.status == 200:
            await response.read()
            return 200, None
        return response.status, (await response.json())["errors"][0]


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
