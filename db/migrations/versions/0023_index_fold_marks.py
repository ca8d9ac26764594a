"""A fold remembers the newest ticket, event and rating it could see (``index_fold.*_mark``).

The refresh job refolds only days that can still change: the day in progress, a day folded
before it had settled, and a finished day that received rows since the last fold (a call
recorded after the database came back, a grid worker's report filed from the street later):
rows whose id is above the last fold's mark. Without the marks every refresh refolded the day
before as well, doubling the work after midnight.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_MARKS = ("ticket_mark", "event_mark", "survey_mark")


def upgrade() -> None:
    with op.batch_alter_table("index_fold", **BATCH) as batch:
        for name in _MARKS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_fold", **BATCH) as batch:
        for name in _MARKS:
            batch.drop_column(name)
