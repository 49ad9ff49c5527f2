"""Signatures: signature requirements of the policy and the trust material they name.

Why: signature requirements are part of the policy (every replica must enforce the same
ones, and a change must move the policy version so cached decisions are re-made), and the
keys, Sigstore trusted roots and Notation trust stores/policies they refer to are managed
through the admin API, so both live in the database beside the rules. The tables are new
and empty: creating them takes no lock anything else waits for.

downgrade() drops both tables, and with them every requirement and piece of trust material.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signature_requirements",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signature_requirements"),
    )
    op.create_table(
        "trust_materials",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_trust_materials"),
    )


def downgrade() -> None:
    op.drop_table("trust_materials")
    op.drop_table("signature_requirements")
