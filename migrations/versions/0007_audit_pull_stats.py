"""An index for counting pulls per outcome over a time range.

Why: the admin console's overview (and `GET /api/v1/stats/pulls`, `/stats/denials`) counts
pull events per outcome between two times. The existing `(created_at, id)` index finds the
range but every row must then be read to learn its kind and outcome; `(kind, created_at,
outcome)` answers the count from the index alone on PostgreSQL and narrows SQLite's scan
to pulls in the range.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction: the audit
log is the largest table, and a plain CREATE INDEX would hold back the audit writer (and
with it every pull, once its queue fills) for the whole build. The build may take longer
than the migration's 60 s statement timeout on a large log, so that is lifted for it.
A failed concurrent build leaves an INVALID index; downgrade() (or DROP INDEX) removes it.

downgrade() drops the index; no data changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ix_audit_events_pulls"
COLUMNS = ["kind", "created_at", "outcome"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("SET statement_timeout = 0")
            op.create_index(INDEX, "audit_events", COLUMNS, postgresql_concurrently=True, if_not_exists=True)
            op.execute("SET statement_timeout = '60s'")
        return
    op.create_index(INDEX, "audit_events", COLUMNS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(INDEX, table_name="audit_events", postgresql_concurrently=True, if_exists=True)
        return
    op.drop_index(INDEX, table_name="audit_events")
