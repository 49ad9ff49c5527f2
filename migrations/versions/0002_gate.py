"""The gate: policy rules and version, decisions, the quarantine queue, audit log, API tokens.

Why: the gate decides every pull from rules kept in the database, so that every replica
decides alike, and it must be able to explain and audit each decision afterwards. The
tables are new and empty, so creating them takes no lock anything else waits for.

- ``policy_state`` holds one row whose ``version`` every rule change bumps in the same
  transaction; replicas compare versions to know when to reload the rules, and decisions
  record the version they were made under. The row is inserted here, with the default
  action ``deny``, so that a fresh installation fails closed (DESIGN.md invariant 2) until
  an operator writes a policy, and so that the version counter never has to be created on
  the fly by concurrent writers.
- ``decisions``, ``quarantine`` and ``audit_events`` name images by (upstream, repository,
  digest) rather than by foreign keys into ``repositories``/``manifests``: evicting cached
  metadata must not erase what was decided, reviewed or pulled.
- Constraint and index names are written out as db.models' naming convention produces
  them, as in 0001, so both databases carry the same names.

downgrade() drops the six tables, and with them every rule, decision and audit event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DIGEST = sa.String(160)  # "sha512:" + 128 hex digits
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    _rules()
    _policy_state()
    _decisions()
    _quarantine()
    _audit_events()
    _api_tokens()


def _rules() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("registry", sa.String(255), nullable=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(255), nullable=True),
        sa.Column("tag_regex", sa.String(512), nullable=True),
        sa.Column("digest", DIGEST, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rules"),
    )


def _policy_state() -> None:
    policy_state = op.create_table(
        "policy_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("default_action", sa.String(16), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_state"),
    )
    # The only row. Writers lock it (SELECT ... FOR UPDATE) before touching rules, which
    # serialises policy changes on PostgreSQL; it must therefore exist before any writer.
    op.bulk_insert(
        policy_state,
        [{"id": 1, "version": 1, "default_action": "deny", "updated_at": datetime.now(UTC)}],
    )


def _decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("upstream", sa.String(255), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    # "Was this image already decided under the policy in force?"
    op.create_index(
        "ix_decisions_lookup", "decisions", ["upstream", "repository", "digest", "policy_version"]
    )
    # Retention deletes the oldest decisions first.
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])


def _quarantine() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upstream", sa.String(255), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("reviewed_by", sa.String(255), nullable=True),
        sa.Column("reviewed_at", TIMESTAMP, nullable=True),
        sa.Column("review_reason", sa.String(2000), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        # One review per image: holding an image twice must not queue it twice.
        sa.UniqueConstraint("upstream", "repository", "digest", name="uq_quarantine_image"),
    )
    # The review queue pages by id within a status.
    op.create_index("ix_quarantine_status", "quarantine", ["status", "id"])


def _audit_events() -> None:
    op.create_table(
        "audit_events",
        # BIGINT on PostgreSQL (an audit log outgrows 2^31 rows); SQLite's rowid is 64-bit
        # already, and only a column declared exactly INTEGER becomes that rowid.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.Column("identity", sa.String(255), nullable=True),
        sa.Column("upstream", sa.String(255), nullable=True),
        sa.Column("repository", sa.String(255), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("digest", DIGEST, nullable=True),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    # Keyset pagination walks (created_at, id) newest first; id breaks ties within a batch.
    op.create_index("ix_audit_events_time", "audit_events", ["created_at", "id"])
    # "Who pulled this digest?"
    op.create_index("ix_audit_events_digest", "audit_events", ["digest"])
    op.create_index("ix_audit_events_image", "audit_events", ["upstream", "repository"])


def _api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        # SHA-256 hex of the token; the plaintext is shown once and never stored.
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        # Authentication looks a token up by its hash, so the constraint is also the index.
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("audit_events")
    op.drop_table("quarantine")
    op.drop_table("decisions")
    op.drop_table("policy_state")
    op.drop_table("rules")
