"""The metadata schema. Content bytes live in the blob store; these rows say what they are.

A repository is (upstream, name). Manifest rows are per repository because what may be
served is decided per repository (a blob is served only on behalf of a manifest in the same
repository); the manifest bytes themselves are stored once, by digest. `stored_objects`
accounts for every object in the blob store (blobs and manifest bytes) for eviction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "ManifestBlob",
    "ManifestChild",
    "ManifestRecord",
    "Repository",
    "StoredObject",
    "TagRecord",
]

# Explicit constraint names keep alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIGEST = String(160)  # "sha512:" + 128 hex digits fits


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("upstream", "name", name="uq_repositories_upstream_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upstream: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class ManifestRecord(Base):
    __tablename__ = "manifests"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
        Index("ix_manifests_digest", "digest"),
        Index("ix_manifests_subject", "repository_id", "subject_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(DIGEST)
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    artifact_type: Mapped[str | None] = mapped_column(String(255))
    subject_digest: Mapped[str | None] = mapped_column(DIGEST)
    fetched_at: Mapped[datetime]

    blobs: Mapped[list[ManifestBlob]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    children: Mapped[list[ManifestChild]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ManifestBlob(Base):
    """A blob (config or layer) that a manifest references, in manifest order."""

    __tablename__ = "manifest_blobs"
    __table_args__ = (Index("ix_manifest_blobs_blob_digest", "blob_digest"),)

    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 is the config
    blob_digest: Mapped[str] = mapped_column(DIGEST)
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)


class ManifestChild(Base):
    """A manifest an index lists, with its platform."""

    __tablename__ = "manifest_children"
    __table_args__ = (Index("ix_manifest_children_child_digest", "child_digest"),)

    parent_id: Mapped[int] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_digest: Mapped[str] = mapped_column(DIGEST)
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    platform: Mapped[str | None] = mapped_column(String(255))


class TagRecord(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("repository_id", "name", name="uq_tags_repository_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(DIGEST)
    validated_at: Mapped[datetime]  # last time the upstream confirmed tag -> digest


class StoredObject(Base):
    """Every object in the blob store, with what eviction needs to know."""

    __tablename__ = "stored_objects"
    __table_args__ = (Index("ix_stored_objects_last_access", "last_access"),)

    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # "blob" or "manifest"
    created_at: Mapped[datetime]
    last_access: Mapped[datetime]
