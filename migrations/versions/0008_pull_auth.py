"""Pull authentication: robot accounts, the pull-token signing key, slow-hashed admin tokens.

Why: clients may now authenticate to pullgate (robot accounts for CI jobs and nodes, with
repository scopes), and every replica must know the same robots and verify the tokens any
of them issued, so robots and the one HMAC signing key live in the database. Admin tokens
move from an unsalted SHA-256 to scrypt (`secret_hash`) and gain an expiry; a new token
carries its id, so the hash to check is found without a hash-derived index. Tokens made
before this revision keep working: `token_hash` stays (now nullable, new tokens leave it
empty) and is still looked up for them, and they are reported as legacy, to be rotated.

Locks: two new, empty tables; on api_tokens two nullable columns and a dropped NOT NULL,
metadata-only changes on PostgreSQL (SQLite copies the small table in batch mode).

downgrade() drops robots and the signing key (every robot and every issued pull token is
gone) and deletes the admin tokens created after this revision, which the older code could
not verify; legacy tokens survive.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "robots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_robots"),
        # Basic auth finds the robot by name: the constraint is also the index.
        sa.UniqueConstraint("name", name="uq_robots_name"),
    )
    op.create_table(
        "pull_token_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kid", sa.String(32), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pull_token_keys"),
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("token_hash", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("secret_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("expires_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    # The older schema requires token_hash; tokens made since have none and could not be used.
    op.execute("DELETE FROM api_tokens WHERE token_hash IS NULL")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("secret_hash")
        batch.alter_column("token_hash", existing_type=sa.String(64), nullable=False)
    op.drop_table("pull_token_keys")
    op.drop_table("robots")
