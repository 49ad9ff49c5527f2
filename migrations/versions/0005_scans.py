"""Scans: vulnerability policies and exceptions, per-layer analyses, scans and findings.

Why: the gate decides on vulnerability scan results, so every replica must see the same
vulnerability policies and exceptions (kept beside the rules and versioned with them) and
the same scans. A scan row per (manifest digest, scanner, database version) is also the
lease that makes one replica scan a digest while the others wait. Layers are analysed once
and shared by every image that carries them; findings are kept one row per name (id and
aliases) so that "which images does CVE-X affect?" is an index lookup. New, empty tables:
creating them takes no lock anything else waits for.

downgrade() drops the five tables: policies, exceptions, analyses and every scan result.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DIGEST = sa.String(160)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    for table in ("vulnerability_policies", "vulnerability_exceptions"):
        op.create_table(
            table,
            sa.Column("id", sa.String(64), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("spec", sa.JSON(), nullable=False),
            sa.Column("created_at", TIMESTAMP, nullable=False),
            sa.Column("updated_at", TIMESTAMP, nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        )
    op.create_table(
        "layer_analyses",
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("analyzer_version", sa.Integer(), nullable=False),
        sa.Column("analysis", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_layer_analyses"),
    )
    op.create_table(
        "scans",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("scanner", sa.String(64), nullable=False),
        sa.Column("db_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
        sa.UniqueConstraint("digest", "scanner", "db_version", name="uq_scans_digest"),
    )
    op.create_index("ix_scans_digest_finished_at", "scans", ["digest", "finished_at"])
    op.create_table(
        "scan_findings",
        sa.Column("scan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("package", sa.String(255), nullable=False),
        sa.Column("installed_version", sa.String(255), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("fixed_version", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_scan_findings_scan_id_scans", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scan_id", "position", "name", name="pk_scan_findings"),
    )
    op.create_index("ix_scan_findings_name", "scan_findings", ["name"])


def downgrade() -> None:
    op.drop_index("ix_scan_findings_name", table_name="scan_findings")
    op.drop_table("scan_findings")
    op.drop_index("ix_scans_digest_finished_at", table_name="scans")
    op.drop_table("scans")
    op.drop_table("layer_analyses")
    op.drop_table("vulnerability_exceptions")
    op.drop_table("vulnerability_policies")
