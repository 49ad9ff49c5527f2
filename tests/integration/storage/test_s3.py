"""What only the S3 backend does: multipart uploads, presigned URLs, bucket housekeeping, failures.

Behaviour shared with other backends is in tests/contract. Every test runs against a real S3
endpoint (``rclone serve s3``) and looks behind the store's back with a plain botocore client.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage.base import StorageError, Upload
from proxy.storage.s3 import S3BlobStore, S3Config
from tests.support.s3 import RunningS3

MiB = 1024 * 1024
PART = 5 * MiB  # the smallest part S3 allows
PREFIX = "cache/"


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
async def store(s3_server: RunningS3, tmp_path: Path) -> AsyncIterator[S3BlobStore]:
    opened = S3BlobStore(s3_server.config(tmp_path / "spool", prefix=PREFIX, part_size=PART))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def write_all(upload: Upload, data: bytes, piece: int = 256 * 1024) -> None:
    for start in range(0, len(data), piece):
        await upload.write(data[start : start + piece])


def multipart_uploads(server: RunningS3) -> list[dict[str, Any]]:
    try:
        listed = server.client().list_multipart_uploads(Bucket=server.bucket)
    except ClientError as exc:
        # rclone (gofakes3) answers NoSuchUpload instead of an empty list when there are none.
        if exc.response["Error"]["Code"] == "NoSuchUpload":
            return []
        raise
    uploads: list[dict[str, Any]] = listed.get("Uploads", [])
    return uploads


def keys(server: RunningS3) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=server.bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def blob_key(digest: Digest) -> str:
    return f"{PREFIX}blobs/{digest.algorithm}/{digest.encoded}"


# --- multipart --------------------------------------------------------------------------------


async def test_large_blob_streams_parts_while_it_arrives(store: S3BlobStore, s3_server: RunningS3) -> None:
    data = payload(2 * PART + 3 * MiB + 7)  # three parts, the last one short
    digest = Digest.of(data)
    upload = await store.new_upload(expected=digest)

    await write_all(upload, data)

    client = s3_server.client()
    [pending] = multipart_uploads(s3_server)
    assert pending["Key"] == blob_key(digest)
    with pytest.raises(ClientError):  # parts are not content: nothing under the key yet
        client.head_object(Bucket=s3_server.bucket, Key=blob_key(digest))

    await upload.commit(digest, len(data))

    assert multipart_uploads(s3_server) == []
    assert not upload.path.exists()
    assert await store.stat(digest) == len(data)
    assert b"".join([chunk async for chunk in store.read(digest)]) == data
    assert keys(s3_server) == [blob_key(digest)]


async def test_large_blob_without_expected_digest_goes_up_at_commit(
    store: S3BlobStore, s3_server: RunningS3
) -> None:
    data = payload(2 * PART + 1, seed=1)
    digest = Digest.of(data)
    upload = await store.new_upload()

    await write_all(upload, data)
    assert multipart_uploads(s3_server) == []  # no key to stream to before the digest is known
    await upload.commit(digest, len(data))

    assert multipart_uploads(s3_server) == []
    assert await store.read_all(digest, limit=len(data)) == data


async def test_digest_mismatch_aborts_the_multipart_upload(store: S3BlobStore, s3_server: RunningS3) -> None:
    promised = payload(3 * PART, seed=2)
    sent = bytearray(promised)
    sent[-1] ^= 0xFF  # one flipped bit in the last byte: only the digest tells
    digest = Digest.of(promised)
    upload = await store.new_upload(expected=digest)
    await write_all(upload, bytes(sent))
    assert multipart_uploads(s3_server) != []

    with pytest.raises(DigestMismatchError):
        await upload.commit(digest, len(promised))

    assert multipart_uploads(s3_server) == []
    assert keys(s3_server) == []
    assert not upload.path.exists()


async def test_abort_mid_stream_leaves_no_parts(store: S3BlobStore, s3_server: RunningS3) -> None:
    data = payload(3 * PART, seed=3)
    upload = await store.new_upload(expected=Digest.of(data))
    await write_all(upload, data[: 2 * PART + MiB])

    await upload.abort()

    assert multipart_uploads(s3_server) == []
    assert keys(s3_server) == []
    assert not upload.path.exists()


async def test_commit_under_another_digest_than_expected(store: S3BlobStore, s3_server: RunningS3) -> None:
    data = payload(2 * PART + 5, seed=4)
    upload = await store.new_upload(expected=Digest.of(b"what the manifest promised"))
    await write_all(upload, data)

    await upload.commit(Digest.of(data), len(data))

    assert multipart_uploads(s3_server) == []
    assert keys(s3_server) == [blob_key(Digest.of(data))]


async def test_commit_of_present_content_aborts_the_streamed_copy(
    store: S3BlobStore, s3_server: RunningS3
) -> None:
    data = payload(2 * PART + 5, seed=5)
    digest = Digest.of(data)
    first = await store.new_upload()
    await write_all(first, data)
    await first.commit(digest, len(data))
    second = await store.new_upload(expected=digest)
    await write_all(second, data)

    await second.commit(digest, len(data))

    assert multipart_uploads(s3_server) == []
    assert keys(s3_server) == [blob_key(digest)]


async def test_ranged_reads_across_part_boundaries(store: S3BlobStore) -> None:
    data = payload(2 * PART + 100, seed=6)
    digest = Digest.of(data)
    upload = await store.new_upload(expected=digest)
    await write_all(upload, data)
    await upload.commit(digest, len(data))

    for offset, length in [(PART - 10, 20), (2 * PART - 1, 2), (2 * PART, None), (0, PART + 1)]:
        chunks = [chunk async for chunk in store.read(digest, offset, length, chunk_size=64 * 1024)]
        end = None if length is None else offset + length
        assert b"".join(chunks) == data[offset:end]
        assert max(len(chunk) for chunk in chunks) <= 64 * 1024


# --- presigned URLs ---------------------------------------------------------------------------


async def test_presigned_url_serves_the_blob(store: S3BlobStore) -> None:
    data = payload(100_000, seed=7)
    digest = Digest.of(data)
    await store.put_bytes(digest, data)

    url = await store.presigned_url(digest, expires=60)

    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert await response.read() == data
        async with session.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")) as response:
            assert response.status == 403


# --- the bucket ---------------------------------------------------------------------------------


async def test_only_the_prefix_is_used(store: S3BlobStore, s3_server: RunningS3) -> None:
    client = s3_server.client()
    stranger = Digest.of(b"another tenant's blob")
    client.put_object(Bucket=s3_server.bucket, Key=f"other/blobs/sha256/{stranger.encoded}", Body=b"x")
    client.put_object(Bucket=s3_server.bucket, Key=f"{PREFIX}blobs/sha256/not-a-digest", Body=b"x")
    data = b"ours"
    await store.put_bytes(Digest.of(data), data)
    await store.ping()

    assert [entry async for entry in store.iter_blobs()] == [(Digest.of(data), len(data))]
    assert all(key.startswith("other/") or key.startswith(PREFIX) for key in keys(s3_server))


async def test_missing_bucket_is_reported_or_created(s3_server: RunningS3, tmp_path: Path) -> None:
    missing = S3BlobStore(s3_server.config(tmp_path / "spool", bucket="no-such-bucket"))
    with pytest.raises(StorageError, match=r"no-such-bucket.*does not exist.*create_bucket"):
        await missing.open()

    created = S3BlobStore(s3_server.config(tmp_path / "spool", bucket="made-on-open", create_bucket=True))
    await created.open()
    try:
        await created.ping()
    finally:
        await created.close()


async def test_open_aborts_multipart_uploads_left_by_a_crash(s3_server: RunningS3, tmp_path: Path) -> None:
    client = s3_server.client()
    key = f"{PREFIX}blobs/sha256/{Digest.of(b'half-sent').encoded}"
    client.create_multipart_upload(Bucket=s3_server.bucket, Key=key)
    client.create_multipart_upload(Bucket=s3_server.bucket, Key="elsewhere/big")

    young = S3BlobStore(s3_server.config(tmp_path / "spool", prefix=PREFIX))
    await young.open()  # the default age: an upload this recent may be another replica's
    await young.close()
    assert len(multipart_uploads(s3_server)) == 2

    sweeping = S3BlobStore(s3_server.config(tmp_path / "spool", prefix=PREFIX, stale_upload_age=0.0))
    await sweeping.open()
    await sweeping.close()
    assert [upload["Key"] for upload in multipart_uploads(s3_server)] == ["elsewhere/big"]


# --- failures -----------------------------------------------------------------------------------


async def test_endpoint_going_away_is_a_clear_storage_error(store: S3BlobStore, s3_server: RunningS3) -> None:
    data = b"manifest"
    digest = Digest.of(data)
    await store.put_bytes(digest, data)
    s3_server.stop()

    with pytest.raises(StorageError) as caught:
        await store.stat(digest)
    message = str(caught.value)
    assert "S3 HeadObject" in message
    assert s3_server.endpoint_url in message
    assert "cannot connect" in message
    assert "\n" not in message and "Traceback" not in message
    with pytest.raises(StorageError, match="S3 GetObject"):
        await anext(store.read(digest))
    with pytest.raises(StorageError, match="S3 probe"):
        await store.ping()


async def test_upload_to_a_vanished_endpoint_fails_and_cleans_up(
    store: S3BlobStore, s3_server: RunningS3
) -> None:
    data = payload(2 * PART + 1, seed=8)
    digest = Digest.of(data)
    upload = await store.new_upload(expected=digest)
    await write_all(upload, data[:PART])
    s3_server.stop()

    with pytest.raises(StorageError, match="S3"):
        await write_all(upload, data[PART:])
        await upload.commit(digest, len(data))
    await upload.abort()

    assert not upload.path.exists()


def test_config_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="part_size") as caught:
        S3Config(bucket="b", spool_dir=tmp_path, part_size=MiB, access_key_id="key")
    assert "secret_access_key" in str(caught.value)  # every problem at once
    assert "hunter2" not in repr(
        S3Config(bucket="b", spool_dir=tmp_path, access_key_id="k", secret_access_key="hunter2")
    )
