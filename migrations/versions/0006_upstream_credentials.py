"""Upstream credentials, sealed with AES-256-GCM, managed through the admin API and the CLI.

Why: credentials in the YAML file (or a mounted password file) are in clear wherever the
file is, and changing one means redeploying every replica. Stored here, a credential is set
once (`PUT /api/v1/upstreams/{name}/credentials`, `pullgate upstream credentials set`) and
every replica picks it up within `secrets.refresh_interval`. The password is stored only
as an envelope sealed with the key ring (`sealed`), beside the id of the key that sealed
it (`key_id`), so a rotation can find what each key still protects. One new, empty table:
creating it takes no lock anything else waits for.

downgrade() drops the table and every stored credential with it; upstreams fall back to
the credentials of the YAML settings, if any.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "upstream_credentials",
        sa.Column("upstream", sa.String(255), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        # Version byte, nonce, ciphertext and tag: a few dozen bytes more than the password.
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("upstream", name="pk_upstream_credentials"),
    )


def downgrade() -> None:
    op.drop_table("upstream_credentials")
