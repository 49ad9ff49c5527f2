"""The metadata schema. Content bytes live in the blob store; these rows say what they are.

A repository is (upstream, name). Manifest rows are per repository because what may be
served is decided per repository (a blob is served only on behalf of a manifest in the same
repository); the manifest bytes themselves are stored once, by digest. `stored_objects`
accounts for every object in the blob store (blobs and manifest bytes) for eviction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "DecisionRecord",
    "ManifestBlob",
    "ManifestChild",
    "ManifestRecord",
    "PolicyState",
    "QuarantineRecord",
    "Repository",
    "RuleRecord",
    "SignatureRequirementRecord",
    "StoredObject",
    "TagRecord",
    "TrustMaterialRecord",
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


# -- the gate -------------------------------------------------------------------------------
class RuleRecord(Base):
    """A policy rule. `revision` increments on every change and is the rule's ETag."""

    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "registry" is taken by DeclarativeBase; the column keeps the name the API uses.
    registry_pattern: Mapped[str | None] = mapped_column("registry", String(255))  # glob; NULL: any
    repository: Mapped[str] = mapped_column(String(255))  # glob: * within a component, ** across
    tag: Mapped[str | None] = mapped_column(String(255))  # glob
    tag_regex: Mapped[str | None] = mapped_column(String(512))
    digest: Mapped[str | None] = mapped_column(DIGEST)
    action: Mapped[str] = mapped_column(String(16))  # allow | deny | quarantine
    mode: Mapped[str] = mapped_column(String(16))  # enforce | warn
    description: Mapped[str] = mapped_column(String(2000), default="")
    owner: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PolicyState(Base):
    """One row: the policy version, bumped in the same transaction as any rule change."""

    __tablename__ = "policy_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(BigInteger)
    default_action: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class SignatureRequirementRecord(Base):
    """A signature requirement of the policy, kept as its document form (JSON).

    Requirements are read whole (one policy version at a time) and never queried by field,
    so one JSON column keeps their nested authorities without a table per shape.
    """

    __tablename__ = "signature_requirements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # order in the policy document
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrustMaterialRecord(Base):
    """A public key, Sigstore trusted root, Notation trust store or trust policy, by name.

    Changing one bumps the policy version in the same transaction: decisions made with the
    old material are re-made.
    """

    __tablename__ = "trust_materials"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of content, for listings and change checks
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DecisionRecord(Base):
    """A decision on one manifest of one repository, under one policy version."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_lookup", "upstream", "repository", "digest", "policy_version"),
        Index("ix_decisions_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4, quoted in denials
    upstream: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(DIGEST)
    reference: Mapped[str | None] = mapped_column(String(255))  # the tag asked for, if any
    outcome: Mapped[str] = mapped_column(String(16))  # allow | warn | deny | quarantine | pending
    reasons: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class QuarantineRecord(Base):
    """An image held for review, and what the reviewer decided."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("upstream", "repository", "digest", name="uq_quarantine_image"),
        # The review queue pages by id within a status.
        Index("ix_quarantine_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upstream: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(DIGEST)
    reference: Mapped[str | None] = mapped_column(String(255))
    decision_id: Mapped[str] = mapped_column(String(36))
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | released | rejected
    created_at: Mapped[datetime]
    reviewed_by: Mapped[str | None] = mapped_column(String(255))
    reviewed_at: Mapped[datetime | None]
    review_reason: Mapped[str | None] = mapped_column(String(2000))
    expires_at: Mapped[datetime | None]  # a release is an exception that ends here


class AuditEvent(Base):
    """One manifest decision as a client met it: who pulled what, and what pullgate said."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # Keyset pagination walks (created_at, id) newest first; id breaks ties within a batch.
        Index("ix_audit_events_time", "created_at", "id"),
        Index("ix_audit_events_digest", "digest"),
        Index("ix_audit_events_image", "upstream", "repository"),
        # Dashboards count pulls per outcome over a time range (db.stats_queries).
        Index("ix_audit_events_pulls", "kind", "created_at", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))  # pull | admin
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    identity: Mapped[str | None] = mapped_column(String(255))
    upstream: Mapped[str | None] = mapped_column(String(255))
    repository: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[str | None] = mapped_column(String(255))
    digest: Mapped[str | None] = mapped_column(DIGEST)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    outcome: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_version: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)  # admin actions: what changed


class ApiToken(Base):
    """An admin API bearer token; only a hash of it is stored (see `db.token_queries`)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | auditor
    # Legacy tokens (before revision 0008): SHA-256 hex, looked up by this unique index.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Current tokens: scrypt hash with its salt and parameters; the token carries its id.
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
