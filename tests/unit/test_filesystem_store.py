"""What only the filesystem backend does: its layout, crash recovery and error wrapping.

Behaviour shared with other backends is in tests/contract.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.storage.base import StorageError
from proxy.storage.filesystem import FilesystemBlobStore
from tests.support.spool import spool_writer


async def opened(root: Path, **options: float | None) -> FilesystemBlobStore:
    store = FilesystemBlobStore(root, **options)
    await store.open()
    return store


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_open_creates_the_layout(tmp_path: Path) -> None:
    await opened(tmp_path / "store")

    assert (tmp_path / "store" / "_uploads").is_dir()
    assert (tmp_path / "store" / "blobs" / "sha256").is_dir()


async def test_content_lives_under_its_digest(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    digest = Digest.of(b"hello")

    await store.put_bytes(digest, b"hello")

    path = tmp_path / "blobs" / "sha256" / digest.encoded[:2] / digest.encoded
    assert path.read_bytes() == b"hello"
    assert store.local_path(digest) == path


async def test_open_removes_spool_files_left_by_a_crash(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    with spool_writer(tmp_path / "_uploads") as crashed:
        crashed.kill()  # SIGKILL: nothing of the writer runs any more, its lock is gone
    kept_directory = tmp_path / "_uploads" / "not-a-spool-file"
    kept_directory.mkdir()
    digest = Digest.of(b"committed")
    await store.put_bytes(digest, b"committed")

    restarted = await opened(tmp_path)

    assert not crashed.path.exists()
    assert kept_directory.is_dir()
    assert await restarted.read_all(digest, limit=100) == b"committed"


async def test_open_keeps_the_spool_files_of_live_writers_however_old(tmp_path: Path) -> None:
    # Another replica sharing the directory, busy with a slow fill since yesterday.
    await opened(tmp_path)
    with spool_writer(tmp_path / "_uploads") as alive:
        age(alive.path, 3 * 86400)

        await opened(tmp_path)

        assert alive.path.exists()


async def test_spool_files_of_other_machines_go_only_once_stale(tmp_path: Path) -> None:
    uploads = tmp_path / "_uploads"
    uploads.mkdir()
    fresh = uploads / f"{'0' * 32}.{'a' * 32}"  # another boot id: another machine's, or an old boot
    stale = uploads / f"{'0' * 32}.{'b' * 32}"
    legacy = uploads / ("c" * 32)  # the naming of earlier versions
    for path in (fresh, stale, legacy):
        path.write_bytes(b"partial")
    age(stale, 3600)
    age(legacy, 3600)

    await opened(tmp_path, stale_spool_age=None)
    assert fresh.exists() and stale.exists() and legacy.exists()

    await opened(tmp_path, stale_spool_age=600)
    assert fresh.exists() and not stale.exists() and not legacy.exists()


async def test_small_writes_are_buffered_until_commit(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    upload = await store.new_upload()
    data = b"0123456789" * 100

    for _ in range(10):
        await upload.write(data)

    assert upload.size == 0
    assert upload.path.stat().st_size == 0
    await upload.commit(Digest.of(data * 10), len(data) * 10)
    assert await store.stat(Digest.of(data * 10)) == len(data) * 10


async def test_iter_blobs_ignores_junk(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    digest = Digest.of(b"real")
    await store.put_bytes(digest, b"real")
    misplaced = Digest.of(b"misplaced")
    blobs = tmp_path / "blobs"
    (blobs / "sha256" / "zz").mkdir()
    (blobs / "sha256" / "zz" / misplaced.encoded).write_bytes(b"misplaced")
    (blobs / "sha256" / digest.encoded[:2] / "README").write_text("junk")
    (blobs / "sha256" / "stray-file").write_text("junk")
    (blobs / "md5" / "ab").mkdir(parents=True)
    (blobs / "md5" / "ab" / ("ab" * 16)).write_text("junk")

    listed = [entry async for entry in store.iter_blobs()]

    assert listed == [(digest, 4)]


async def test_a_crafted_digest_cannot_leave_the_root(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    crafted = Digest("sha256", "../../../etc/passwd")

    with pytest.raises(InvalidDigestError):
        await store.stat(crafted)
    with pytest.raises(InvalidDigestError):
        store.local_path(crafted)


async def test_os_errors_become_storage_errors(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    digest = Digest.of(b"content")
    (tmp_path / "blobs" / "sha256" / digest.encoded[:2]).write_text("a file where a directory belongs")

    with pytest.raises(StorageError, match="stat failed for"):
        await store.stat(digest)
    with pytest.raises(StorageError, match="publish failed for"):
        await store.put_bytes(digest, b"content")
    assert list((tmp_path / "_uploads").iterdir()) == []


async def test_ping_leaves_nothing_behind(tmp_path: Path) -> None:
    store = await opened(tmp_path)

    await store.ping()

    assert list((tmp_path / "_uploads").iterdir()) == []


async def test_ping_fails_when_the_directory_is_gone(tmp_path: Path) -> None:
    store = await opened(tmp_path / "store")
    shutil.rmtree(tmp_path / "store")

    with pytest.raises(StorageError, match="probe failed for"):
        await store.ping()
    with pytest.raises(StorageError, match="create spool file failed for"):
        await store.new_upload()
