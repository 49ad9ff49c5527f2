"""The vulnerability database: OSV records, the packages and names they index, its version.

Why: the built-in scanner matches image inventories offline against OSV data imported with
``pullgate vulndb import``, and every replica must match against the same data, so the
records live in the database rather than on one replica's disk. The tables are new and
empty: creating them takes no lock anything else waits for.

- ``vuln_records`` keeps each record whole (its JSON), with its ``modified`` time so that
  re-importing the same export changes nothing.
- ``vuln_affected`` and ``vuln_aliases`` index the records that are not withdrawn, by
  (ecosystem, package name) for scans and by every id and alias for "which images does
  CVE-X affect?"; both go with their record (ON DELETE CASCADE).
- ``vulndb_state`` holds one row whose ``version`` each import that changed anything bumps
  once, at its end; scans record the version they matched against. The row is inserted
  here, at version 0 (empty), so that importers never race to create it.
- Constraint and index names are written out as db.models' naming convention produces
  them, as in 0001, so both databases carry the same names.

downgrade() drops the four tables, and with them every imported record.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:15:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vuln_records",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("modified", TIMESTAMP, nullable=False),
        sa.Column("withdrawn", TIMESTAMP, nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("imported_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vuln_records"),
    )
    # An import that died after writing rows but before bumping the version leaves rows
    # newer than vulndb_state.updated_at; the next import looks for them and bumps.
    op.create_index("ix_vuln_records_imported_at", "vuln_records", ["imported_at"])
    op.create_table(
        "vuln_affected",
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("ecosystem", sa.String(128), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["vuln_records.id"],
            name="fk_vuln_affected_record_id_vuln_records",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "ecosystem", "name", name="pk_vuln_affected"),
    )
    op.create_table(
        "vuln_aliases",
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["vuln_records.id"],
            name="fk_vuln_aliases_record_id_vuln_records",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "alias", name="pk_vuln_aliases"),
    )
    # A scan asks for the records of every (ecosystem, name) of an image at once.
    op.create_index("ix_vuln_affected_package", "vuln_affected", ["ecosystem", "name"])
    op.create_index("ix_vuln_aliases_alias", "vuln_aliases", ["alias"])
    _vulndb_state()


def _vulndb_state() -> None:
    state = op.create_table(
        "vulndb_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vulndb_state"),
    )
    op.bulk_insert(
        state, [{"id": 1, "version": 0, "updated_at": datetime.now(UTC), "source": "", "records": 0}]
    )


def downgrade() -> None:
    op.drop_table("vulndb_state")
    op.drop_table("vuln_aliases")
    op.drop_table("vuln_affected")
    op.drop_table("vuln_records")
