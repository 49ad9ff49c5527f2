"""kill -9 in the middle of a blob fill, then restart on the same store and database.

The upstream relay holds the blob after a few MiB, so the fill is provably mid-way (bytes in
the spool file) when the process dies. Afterwards: nothing under the blob's final name,
no metadata for it, the orphan spool file removed by the start-up sweep (and only that one:
another replica sharing the directory is mid-fill too, and its fill must complete), the
metadata and the store agreeing both ways, and the next pull fetching correct bytes. On S3
the multipart upload the killed process had open is aborted by the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from db.session import create_engine
from proxy.oci.digest import Digest
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import ALLOW_ALL
from tests.support.push import MANIFEST_ACCEPT
from tests.support.relay import Relay
from tests.support.replicas import Replica, start_replicas
from tests.support.s3 import RunningS3

MiB = 1024 * 1024


@pytest.mark.postgres
async def test_sigkill_mid_fill_leaves_nothing_behind_and_spares_another_replicas_fill(
    tmp_path: Path, postgresql_url: str, upstream_relay: Relay, image_factory: ImageFactory, push_to
) -> None:
    killed_image, other_image = image_factory.image(6 * MiB), image_factory.image(6 * MiB)
    await push_to(upstream_relay.upstream_url, "library/killed", killed_image, "1")
    await push_to(upstream_relay.upstream_url, "library/other", other_image, "1")
    killed_layer, other_layer = killed_image.layer_digests[0], other_image.layer_digests[0]
    with start_replicas(
        tmp_path, postgresql_url, upstream_relay, count=2, admin_token=False, policy=ALLOW_ALL
    ) as replicas:
        a, b = replicas[0], replicas[1]
        store = replicas.storage
        holds = [upstream_relay.hold(f"/blobs/{d}", after=2 * MiB) for d in (killed_layer, other_layer)]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            on_a = await _start_pull(session, a, "library/killed", killed_image)
            on_b = await _start_pull(session, b, "library/other", other_image)
            for hold in holds:
                await asyncio.to_thread(hold.wait_reached)
            await _until(lambda: len(_spool_files(store)) == 2 and all(_spool_files(store).values()))

            a.kill()
            with contextlib.suppress(aiohttp.ClientError):
                await on_a.read()
            assert not _content_path(store, killed_layer).exists(), "nothing under the final name"
            assert killed_layer not in await _recorded(postgresql_url)
            assert len(_spool_files(store)) == 2, "the crash left its spool file"

            a.restart()  # its start-up sweep runs while b's fill is still under way
            assert len(_spool_files(store)) == 1, "a's orphan went, b's live spool file stayed"
            holds[1].release()
            assert await on_b.read() == other_image.blobs[other_layer], "b's fill was not disturbed"

            again = await _start_pull(session, a, "library/killed", killed_image)
            assert await again.read() == killed_image.blobs[killed_layer]
        # The clients had every verified byte before the commit: wait for the commits too.
        await _until(lambda: _spool_files(store) == {})
        assert _stored_digests(store) == await _recorded(postgresql_url), "store and metadata agree"


async def test_sigkill_mid_fill_on_s3_aborts_the_multipart_upload_on_restart(
    tmp_path: Path,
    sqlite_url: str,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
    s3_server: RunningS3,
) -> None:
    image = image_factory.image(12 * MiB)
    await push_to(upstream_relay.upstream_url, "library/big", image, "1")
    layer = image.layer_digests[0]
    spool = tmp_path / "spool"
    storage = {"storage": {"backend": "s3", "s3": _s3_settings(s3_server, spool)}}
    hold = upstream_relay.hold(f"/blobs/{layer}", after=11 * MiB)  # two 5 MiB parts are up
    with start_replicas(
        tmp_path, sqlite_url, upstream_relay, count=1, settings=storage, admin_token=False, policy=ALLOW_ALL
    ) as replicas:
        replica = replicas[0]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            pull = await _start_pull(session, replica, "library/big", image)
            await asyncio.to_thread(hold.wait_reached)
            await _until(lambda: bool(_uploads(s3_server)) and any(spool.glob("*.multipart")))

            replica.kill()
            with contextlib.suppress(aiohttp.ClientError):
                await pull.read()
            assert [u["Key"] for u in _uploads(s3_server)] == [f"blobs/sha256/{Digest.parse(layer).encoded}"]
            assert not _in_bucket(s3_server, layer)

            replica.restart()
            assert _uploads(s3_server) == [], "the killed process's multipart upload was aborted"
            assert list(spool.iterdir()) == [], "its spool file and journal entry are gone"

            again = await _start_pull(session, replica, "library/big", image)
            assert await again.read() == image.blobs[layer]
        await _until(lambda: _in_bucket(s3_server, layer))  # committed just after the client had it
        assert _uploads(s3_server) == []


async def _start_pull(
    session: aiohttp.ClientSession, replica: Replica, repository: str, image: Image
) -> aiohttp.ClientResponse:
    """Pull the manifest, then start the layer's GET: its answer, headers received."""
    url = f"{replica.url}/v2/{repository}"
    async with session.get(f"{url}/manifests/1", headers={"Accept": MANIFEST_ACCEPT}) as response:
        assert response.status == 200, await response.text()
    response = await session.get(f"{url}/blobs/{image.layer_digests[0]}")
    assert response.status == 200, await response.text()
    return response


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def _spool_files(store: Path) -> dict[str, int]:
    uploads = store / "_uploads"
    return {path.name: path.stat().st_size for path in uploads.iterdir()} if uploads.is_dir() else {}


def _content_path(store: Path, digest: str) -> Path:
    parsed = Digest.parse(digest)
    return store / "blobs" / parsed.algorithm / parsed.encoded[:2] / parsed.encoded


def _stored_digests(store: Path) -> set[str]:
    return {f"sha256:{path.name}" for path in (store / "blobs" / "sha256").glob("*/*") if path.is_file()}


async def _recorded(database_url: str) -> set[str]:
    """Every digest the metadata says is in the store (`stored_objects`)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT digest FROM stored_objects"))
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


def _s3_settings(server: RunningS3, spool: Path) -> dict[str, Any]:
    return {
        "bucket": server.bucket,
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "part_size": "5MiB",
        "spool_dir": str(spool),
    }


def _uploads(server: RunningS3) -> list[dict[str, Any]]:
    try:
        listed = server.client().list_multipart_uploads(Bucket=server.bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchUpload":  # how rclone says "none"
            return []
        raise
    return list(listed.get("Uploads", []))


def _in_bucket(server: RunningS3, digest: str) -> bool:
    key = f"blobs/sha256/{Digest.parse(digest).encoded}"
    listed = server.client().list_objects_v2(Bucket=server.bucket, Prefix=key)
    return any(entry["Key"] == key for entry in listed.get("Contents", []))
