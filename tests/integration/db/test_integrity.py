"""Foreign keys hold on every backend, SQLite included (where they are off by default)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.models import ManifestBlob, ManifestChild, ManifestRecord, Repository, TagRecord
from db.session import session_factory

DIGEST = "sha256:" + "b" * 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_deleting_a_repository_deletes_its_tags_and_manifests(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        doomed, kept = (
            await _repository(session, "library/doomed"),
            await _repository(session, "library/kept"),
        )
    async with sessions.begin() as session:
        # Core DELETE, not session.delete(): the database must cascade on its own.
        await session.execute(delete(Repository).where(Repository.id == doomed))
    async with sessions() as session:
        assert await _count(session, TagRecord.repository_id, doomed) == 0
        assert await _count(session, ManifestRecord.repository_id, doomed) == 0
        assert await _count(session, TagRecord.repository_id, kept) == 2
        assert await _count(session, ManifestRecord.repository_id, kept) == 1
        assert await session.scalar(select(func.count()).select_from(ManifestBlob)) == 2
        assert await session.scalar(select(func.count()).select_from(ManifestChild)) == 1


async def test_a_tag_needs_its_repository(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with session_factory(engine).begin() as session:
            session.add(TagRecord(repository_id=12345, name="latest", digest=DIGEST, validated_at=NOW))


async def _repository(session: AsyncSession, name: str) -> int:
    repository = Repository(upstream="docker.io", name=name, created_at=NOW)
    session.add(repository)
    await session.flush()
    session.add_all(
        TagRecord(repository_id=repository.id, name=tag, digest=DIGEST, validated_at=NOW)
        for tag in ("1", "latest")
    )
    session.add(
        ManifestRecord(
            repository_id=repository.id,
            digest=DIGEST,
            media_type="application/vnd.oci.image.manifest.v1+json",
            size=512,
            fetched_at=NOW,
            blobs=[
                ManifestBlob(
                    position=0,
                    blob_digest=DIGEST,
                    media_type="application/vnd.oci.image.config.v1+json",
                    size=2,
                ),
                ManifestBlob(
                    position=1,
                    blob_digest=DIGEST,
                    media_type="application/vnd.oci.image.layer.v1.tar+gzip",
                    size=9,
                ),
            ],
            children=[
                ManifestChild(
                    position=0,
                    child_digest=DIGEST,
                    media_type="application/vnd.oci.image.manifest.v1+json",
                    size=1,
                )
            ],
        )
    )
    await session.flush()
    return repository.id


async def _count(session: AsyncSession, column: InstrumentedAttribute[int], value: int) -> int:
    return int(await session.scalar(select(func.count()).where(column == value)) or 0)
