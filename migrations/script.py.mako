"""${message}

Why: REPLACE ME with why the schema changes, and what a reviewer must check: the locks it
takes and for how long on a large table, whether rows are rewritten or backfilled, whether
a running pullgate of the previous release keeps working, and how downgrade() undoes it.

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
