"""What an upload leaves when its spool file's disk fills up, on every backend (`Upload.spill`).

The spool directory is a small real tmpfs. Writing more than it holds fails with
`StorageFullError`; the upload is discarded (its file gone, nothing stored, no multipart
upload left), and its spill accounts for every byte handed to `write`: those in the file,
those that never reached it, and the hash over all of them.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from proxy.oci.digest import Digest, DigestCheck
from proxy.storage.base import BlobStore, StorageFullError
from proxy.storage.filesystem import FilesystemBlobStore
from proxy.storage.s3 import S3BlobStore
from tests.support.s3 import RunningS3
from tests.support.tmpfs import mounted_tmpfs

MiB = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", 3 * MiB) as mounted:
        yield mounted


@pytest.fixture(params=["filesystem", "s3"])
async def store(request: pytest.FixtureRequest, disk: Path) -> AsyncIterator[BlobStore]:
    if request.param == "filesystem":
        built: BlobStore = FilesystemBlobStore(disk / "store")
    else:
        server: RunningS3 = request.getfixturevalue("s3_server")
        built = S3BlobStore(server.config(disk / "spool", part_size=5 * MiB))
    await built.open()
    try:
        yield built
    finally:
        await built.close()


async def test_a_full_spool_disk_leaves_a_spill_that_accounts_for_every_byte(store: BlobStore) -> None:
    data = random.Random(7).randbytes(5 * MiB)  # more than the disk holds
    digest = Digest.of(data)
    upload = await store.new_upload(expected=digest)
    written = 0
    with pytest.raises(StorageFullError, match="No space left on device"):
        for start in range(0, len(data), 300_000):
            await upload.write(data[start : start + 300_000])
            written = start + 300_000
    spill = upload.spill()
    handed = written + 300_000  # the write that failed was hashed too
    assert spill.in_file + len(spill.unwritten) == min(handed, len(data)) == spill.check.size
    assert data[spill.in_file : spill.check.size] == spill.unwritten
    assert not upload.path.exists(), "the partial spool file is gone"
    assert await store.stat(digest) is None, "nothing stored"

    rest = DigestCheck()
    rest.update(data)
    spill.check.update(data[spill.check.size :])  # what a caller streaming on would do
    spill.check.verify(digest, len(data))
    assert spill.check.digest() == rest.digest()
