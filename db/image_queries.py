"""What one manifest is made of, as the mirror recorded it: config and layers, or the platform
manifests of an index, and the indexes that list it (with the platform they name it for).

The same digest is the same bytes in every repository, so the first cached copy answers;
nothing here reads the content store.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from db.models import ManifestBlob, ManifestChild, ManifestRecord

__all__ = ["ImageContents", "ImageQueries", "Part", "Platformed"]

MAX_PARTS = 1000  # a manifest with more layers or children than this is shown in part


@dataclass(frozen=True, slots=True)
class Part:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Platformed:
    digest: str  # the child (of an index) or the parent (an index listing this manifest)
    media_type: str
    size: int
    platform: str | None


@dataclass(frozen=True, slots=True)
class ImageContents:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    config: Part | None
    layers: list[Part]
    manifests: list[Platformed]  # an index's platform manifests, in index order
    listed_by: list[Platformed]  # indexes listing this manifest, with the platform they give


class ImageQueries:
    """Read-only: meant to run over `db.session.read_only` sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def contents(self, digest: str) -> ImageContents | None:
        async with self._sessions() as session:
            record = await session.scalar(
                select(ManifestRecord)
                .where(ManifestRecord.digest == digest)
                .order_by(ManifestRecord.id)
                .limit(1)
            )
            if record is None:
                return None
            blobs = (await session.scalars(_blobs(record.id))).all()
            children = (await session.scalars(_children(record.id))).all()
            parents = (await session.execute(_parents(digest))).all()
        config = next((Part(b.blob_digest, b.media_type, b.size) for b in blobs if b.position == 0), None)
        return ImageContents(
            digest=record.digest,
            media_type=record.media_type,
            size=record.size,
            artifact_type=record.artifact_type,
            subject_digest=record.subject_digest,
            config=config,
            layers=[Part(b.blob_digest, b.media_type, b.size) for b in blobs if b.position > 0],
            manifests=[Platformed(c.child_digest, c.media_type, c.size, c.platform) for c in children],
            listed_by=[Platformed(d, m, s, p) for d, m, s, p in parents],
        )


def _blobs(manifest_id: int) -> Select[ManifestBlob]:
    return (
        select(ManifestBlob)
        .where(ManifestBlob.manifest_id == manifest_id)
        .order_by(ManifestBlob.position)
        .limit(MAX_PARTS)
    )


def _children(manifest_id: int) -> Select[ManifestChild]:
    return (
        select(ManifestChild)
        .where(ManifestChild.parent_id == manifest_id)
        .order_by(ManifestChild.position)
        .limit(MAX_PARTS)
    )


def _parents(digest: str) -> Select[str, str, int, str | None]:
    parent = aliased(ManifestRecord)
    return (
        select(parent.digest, parent.media_type, parent.size, ManifestChild.platform)
        .join(parent, parent.id == ManifestChild.parent_id)
        .where(ManifestChild.child_digest == digest)
        .distinct()
        .order_by(parent.digest)
        .limit(MAX_PARTS)
    )
