"""The storage contract (proxy/storage/base.py): every backend must pass all of it.

The `blob_store` fixture (conftest.py) runs each test once per backend.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from proxy.oci.digest import Digest, DigestMismatchError
from proxy.storage import spool
from proxy.storage.base import DEFAULT_CHUNK, BlobNotFoundError, BlobStore, StorageError, Upload

MiB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that do not compress or repeat, so misplaced ranges show."""
    return random.Random(seed).randbytes(size)


async def collect(
    store: BlobStore,
    digest: Digest,
    offset: int = 0,
    length: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> list[bytes]:
    return [chunk async for chunk in store.read(digest, offset, length, chunk_size)]


async def stored(store: BlobStore) -> list[tuple[Digest, int]]:
    return [entry async for entry in store.iter_blobs()]


async def write_all(upload: Upload, data: bytes, piece: int = 64 * 1024) -> None:
    for start in range(0, len(data), piece):
        await upload.write(data[start : start + piece])


# --- put, stat, read ------------------------------------------------------------------------


async def test_put_then_stat_and_read(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)

    await blob_store.put_bytes(digest, data)

    assert await blob_store.stat(digest) == len(data)
    assert b"".join(await collect(blob_store, digest)) == data
    assert await blob_store.read_all(digest, limit=len(data)) == data


async def test_empty_content_is_content(blob_store: BlobStore) -> None:
    digest = Digest.of(b"")

    await blob_store.put_bytes(digest, b"")

    assert await blob_store.stat(digest) == 0
    assert await collect(blob_store, digest) == []


async def test_missing_blob(blob_store: BlobStore) -> None:
    digest = Digest.of(b"never stored")

    assert await blob_store.stat(digest) is None
    assert blob_store.local_path(digest) is None
    assert await blob_store.delete(digest) is False
    with pytest.raises(BlobNotFoundError) as caught:
        await blob_store.read_all(digest, limit=100)
    assert caught.value.digest == digest


async def test_read_of_missing_blob_raises_on_first_iteration(blob_store: BlobStore) -> None:
    digest = Digest.of(b"never stored")
    stream = blob_store.read(digest)  # creating the stream must not raise yet

    with pytest.raises(BlobNotFoundError):
        await anext(stream)


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, None, slice(0, None)),
        (100, None, slice(100, None)),
        (100, 50, slice(100, 150)),
        (0, 1, slice(0, 1)),
        (999, None, slice(999, None)),
        (990, 500, slice(990, None)),  # a length past the end stops at the end
        (1000, None, slice(1000, None)),  # at the end: nothing
        (2000, None, slice(2000, None)),  # past the end: nothing
        (10, 0, slice(10, 10)),
    ],
)
async def test_read_ranges(blob_store: BlobStore, offset: int, length: int | None, expected: slice) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)

    chunks = await collect(blob_store, digest, offset=offset, length=length, chunk_size=64)

    assert b"".join(chunks) == data[expected]
    assert all(chunks)  # no empty chunks


async def test_read_large_blob_in_bounded_chunks(blob_store: BlobStore) -> None:
    data = payload(10 * MiB)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)
    chunk_size = 64 * 1024

    chunks = await collect(blob_store, digest, chunk_size=chunk_size)

    assert max(len(chunk) for chunk in chunks) <= chunk_size
    assert b"".join(chunks) == data


async def test_read_all_enforces_the_limit(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)

    assert await blob_store.read_all(digest, limit=1000) == data
    with pytest.raises(StorageError) as caught:
        await blob_store.read_all(digest, limit=999)
    assert not isinstance(caught.value, BlobNotFoundError)


async def test_local_path_when_offered_holds_the_content(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)

    path = blob_store.local_path(digest)

    if path is not None:  # a backend may have no local file to offer
        assert path.read_bytes() == data


async def test_sha512_digest(blob_store: BlobStore) -> None:
    data = payload(3 * MiB)
    digest = Digest.of(data, "sha512")
    upload = await blob_store.new_upload()
    await write_all(upload, data)

    await upload.commit(digest, len(data))

    assert await blob_store.stat(digest) == len(data)
    assert b"".join(await collect(blob_store, digest)) == data
    assert await stored(blob_store) == [(digest, len(data))]


async def test_sha512_digest_mismatch(blob_store: BlobStore) -> None:
    data = payload(1000)
    wrong = Digest.of(b"something else", "sha512")

    with pytest.raises(DigestMismatchError) as caught:
        await blob_store.put_bytes(wrong, data)

    assert caught.value.actual == Digest.of(data, "sha512")
    assert await stored(blob_store) == []


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize("declared_size", [True, False])
async def test_upload_commit(blob_store: BlobStore, declared_size: bool) -> None:
    data = payload(3 * MiB + 17)
    digest = Digest.of(data)
    upload = await blob_store.new_upload()

    await write_all(upload, data)
    await upload.commit(digest, len(data) if declared_size else None)

    assert upload.size == len(data)
    assert not upload.path.exists()
    assert await blob_store.stat(digest) == len(data)
    assert b"".join(await collect(blob_store, digest)) == data


async def test_commit_with_wrong_digest_stores_nothing(blob_store: BlobStore) -> None:
    data = payload(2 * MiB)
    expected = Digest.of(b"what the manifest promised")
    upload = await blob_store.new_upload()
    await write_all(upload, data)

    with pytest.raises(DigestMismatchError) as caught:
        await upload.commit(expected, len(data))

    assert caught.value.expected == expected
    assert caught.value.actual == Digest.of(data)
    assert await blob_store.stat(expected) is None
    assert await blob_store.stat(Digest.of(data)) is None
    assert not upload.path.exists()
    assert await stored(blob_store) == []


@pytest.mark.parametrize("delta", [-1, 1])
async def test_commit_with_wrong_size_stores_nothing(blob_store: BlobStore, delta: int) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    upload = await blob_store.new_upload()
    await upload.write(data)

    with pytest.raises(DigestMismatchError) as caught:
        await upload.commit(digest, len(data) + delta)

    assert caught.value.actual is None
    assert caught.value.expected_size == len(data) + delta
    assert caught.value.size == len(data)
    assert await blob_store.stat(digest) is None
    assert not upload.path.exists()


async def test_verify_puts_every_byte_in_the_spool_file_and_stores_nothing_yet(blob_store: BlobStore) -> None:
    data = payload(3 * MiB + 17)  # not a multiple of the write buffer: verify must flush the rest
    digest = Digest.of(data)
    upload = await blob_store.new_upload(expected=digest)
    await write_all(upload, data)

    await upload.verify(digest, len(data))

    assert upload.size == len(data) and upload.path.read_bytes() == data
    assert await blob_store.stat(digest) is None, "verified is not published"
    await upload.commit(digest, len(data))
    assert await blob_store.stat(digest) == len(data)


async def test_commit_after_verify_reads_the_file_back_once(
    blob_store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sha512 without `expected`: the upload hashed sha256 as it went, so verifying means
    # reading the spool file back; the commit that follows must not read it a second time.
    data = payload(2 * MiB)
    digest = Digest.of(data, "sha512")
    reads: list[Path] = []
    hash_file = spool.hash_file

    def counted(path: Path, algorithm: str) -> str:
        reads.append(path)
        return hash_file(path, algorithm)

    monkeypatch.setattr(spool, "hash_file", counted)
    upload = await blob_store.new_upload()
    await write_all(upload, data)

    await upload.verify(digest, len(data))
    await upload.commit(digest, len(data))

    assert len(reads) == 1
    assert await blob_store.stat(digest) == len(data)


async def test_verify_refuses_wrong_bytes_and_leaves_the_upload_to_abort(blob_store: BlobStore) -> None:
    data = payload(1000)
    expected = Digest.of(b"something else")
    upload = await blob_store.new_upload()
    await upload.write(data)

    with pytest.raises(DigestMismatchError):
        await upload.verify(expected, len(data))
    with pytest.raises(DigestMismatchError):
        await upload.verify(Digest.of(data), len(data) + 1)

    await upload.abort()
    assert not upload.path.exists()
    assert await stored(blob_store) == []


async def test_put_bytes_with_wrong_digest_stores_nothing(blob_store: BlobStore) -> None:
    wrong = Digest.of(b"the real manifest")

    with pytest.raises(DigestMismatchError):
        await blob_store.put_bytes(wrong, b"a poisoned manifest")

    assert await blob_store.stat(wrong) is None
    assert await stored(blob_store) == []


async def test_abort_discards_and_is_idempotent(blob_store: BlobStore) -> None:
    data = payload(1000)
    upload = await blob_store.new_upload()
    await upload.write(data)

    await upload.abort()
    await upload.abort()

    assert not upload.path.exists()
    assert await blob_store.stat(Digest.of(data)) is None
    with pytest.raises(StorageError):
        await upload.write(b"more")
    with pytest.raises(StorageError):
        await upload.commit(Digest.of(data))


async def test_abort_after_commit_keeps_the_content(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    upload = await blob_store.new_upload()
    await upload.write(data)
    await upload.commit(digest, len(data))

    await upload.abort()

    assert await blob_store.stat(digest) == len(data)
    with pytest.raises(StorageError):
        await upload.commit(digest, len(data))


async def test_commit_of_content_already_present(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)
    upload = await blob_store.new_upload()
    await upload.write(data)

    await upload.commit(digest, len(data))

    assert not upload.path.exists()
    assert await blob_store.read_all(digest, limit=len(data)) == data
    assert await stored(blob_store) == [(digest, len(data))]


async def test_reader_can_follow_the_spool_file(blob_store: BlobStore) -> None:
    """Single-flight followers read `path` while it grows: `size` bytes are always there."""
    data = payload(4 * MiB)
    upload = await blob_store.new_upload()
    seen = b""
    with upload.path.open("rb") as follower:
        for start in range(0, len(data), 256 * 1024):
            await upload.write(data[start : start + 256 * 1024])
            seen += follower.read()
            assert len(seen) >= upload.size
            assert seen == data[: len(seen)]
        assert len(seen) > 0  # bytes were visible before commit
        await upload.commit(Digest.of(data), len(data))
        seen += follower.read()

    assert seen == data


@pytest.mark.parametrize("already_present", [False, True])
async def test_open_spool_file_survives_commit(blob_store: BlobStore, already_present: bool) -> None:
    data = payload(2 * MiB + 5)
    digest = Digest.of(data)
    if already_present:
        await blob_store.put_bytes(digest, data)
    upload = await blob_store.new_upload()

    with upload.path.open("rb") as follower:
        await write_all(upload, data)
        await upload.commit(digest, len(data))
        assert follower.read() == data


async def test_concurrent_uploads_of_the_same_content(blob_store: BlobStore) -> None:
    data = payload(3 * MiB)
    digest = Digest.of(data)
    first, second = await blob_store.new_upload(), await blob_store.new_upload()
    assert first.path != second.path

    await asyncio.gather(write_all(first, data), write_all(second, data))
    await asyncio.gather(first.commit(digest, len(data)), second.commit(digest, len(data)))

    assert await blob_store.read_all(digest, limit=len(data)) == data
    assert await stored(blob_store) == [(digest, len(data))]


# --- delete, listing, health ----------------------------------------------------------------


async def test_delete(blob_store: BlobStore) -> None:
    data = payload(1000)
    digest = Digest.of(data)
    await blob_store.put_bytes(digest, data)

    assert await blob_store.delete(digest) is True
    assert await blob_store.delete(digest) is False
    assert await blob_store.stat(digest) is None
    with pytest.raises(BlobNotFoundError):
        await collect(blob_store, digest)


async def test_iter_blobs_lists_every_digest_with_its_size(blob_store: BlobStore) -> None:
    contents = [payload(size, seed) for seed, size in enumerate([0, 1, 1000, 70_000])]
    contents.append(payload(500, seed=99))
    expected = {Digest.of(data): len(data) for data in contents[:-1]}
    expected[Digest.of(contents[-1], "sha512")] = 500
    for digest, data in zip(expected, contents, strict=True):
        await blob_store.put_bytes(digest, data)

    listed = await stored(blob_store)

    assert dict(listed) == expected
    assert len(listed) == len(expected)


async def test_iter_blobs_of_an_empty_store(blob_store: BlobStore) -> None:
    assert await stored(blob_store) == []


async def test_ping(blob_store: BlobStore) -> None:
    await blob_store.ping()

    assert await stored(blob_store) == []  # the probe leaves nothing behind
