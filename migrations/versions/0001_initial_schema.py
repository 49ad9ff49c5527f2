"""Initial schema: repositories, their manifests and tags, and the stored objects.

Why: the first revision creates every table db/models.py defines, on an empty database, so
it takes no locks that anything waits for. Constraint and index names are written out as
the naming convention in db.models produces them, so that SQLite and PostgreSQL databases
carry the same names and later revisions can alter them by name. Each foreign key's
column leads a primary key or unique constraint, which doubles as the index that
ON DELETE CASCADE needs on PostgreSQL. downgrade() drops everything, children first.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIGEST = sa.String(160)  # "sha512:" + 128 hex digits
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upstream", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_repositories"),
        sa.UniqueConstraint("upstream", "name", name="uq_repositories_upstream_name"),
    )
    op.create_table(
        "manifests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("subject_digest", DIGEST, nullable=True),
        sa.Column("fetched_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_manifests"),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name="fk_manifests_repository_id_repositories",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
    )
    op.create_index("ix_manifests_digest", "manifests", ["digest"])
    # Finds referrers (signatures, SBOMs) of a manifest within its repository.
    op.create_index("ix_manifests_subject", "manifests", ["repository_id", "subject_digest"])
    op.create_table(
        "manifest_blobs",
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("blob_digest", DIGEST, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("manifest_id", "position", name="pk_manifest_blobs"),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["manifests.id"],
            name="fk_manifest_blobs_manifest_id_manifests",
            ondelete="CASCADE",
        ),
    )
    # Answers "which manifests reference this blob", the question every blob request asks.
    op.create_index("ix_manifest_blobs_blob_digest", "manifest_blobs", ["blob_digest"])
    op.create_table(
        "manifest_children",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("child_digest", DIGEST, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("parent_id", "position", name="pk_manifest_children"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["manifests.id"],
            name="fk_manifest_children_parent_id_manifests",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_manifest_children_child_digest", "manifest_children", ["child_digest"])
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("validated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name="fk_tags_repository_id_repositories",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("repository_id", "name", name="uq_tags_repository_name"),
    )
    op.create_table(
        "stored_objects",
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_access", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_stored_objects"),
    )
    # Eviction walks objects least recently used first.
    op.create_index("ix_stored_objects_last_access", "stored_objects", ["last_access"])


def downgrade() -> None:
    op.drop_table("stored_objects")
    op.drop_table("tags")
    op.drop_table("manifest_children")
    op.drop_table("manifest_blobs")
    op.drop_table("manifests")
    op.drop_table("repositories")
