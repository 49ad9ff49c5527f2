"""The storage backends the contract suite runs against.

Adding a backend is one more entry in `BACKENDS` and one more branch in `_build`; every test
in this directory then runs against it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.storage.base import BlobStore
from proxy.storage.filesystem import FilesystemBlobStore
from proxy.storage.s3 import S3BlobStore
from tests.support.s3 import RunningS3, s3_server

__all__ = ["BACKENDS", "blob_store", "s3_server"]

BACKENDS = ("filesystem", "s3")


def _build(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    # `request` lets a backend that needs a server (S3) ask for its fixture by name.
    kind = request.param
    if kind == "filesystem":
        return FilesystemBlobStore(tmp_path / "store")
    if kind == "s3":
        server: RunningS3 = request.getfixturevalue("s3_server")
        # With a prefix, as a shared bucket would be configured.
        return S3BlobStore(server.config(tmp_path / "spool", prefix="pullgate/"))
    raise AssertionError(f"no builder for storage backend {kind!r}")


@pytest.fixture(params=BACKENDS)
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    store = _build(request, tmp_path)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
