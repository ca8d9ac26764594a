"""Three-way bridge records (hotline/bridge): how a bridge ended, its room recording, the agent.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (("outcome", 16), ("recording_path", 500), ("agent_code", 20),
            ("entry_name", 100))


def upgrade() -> None:
    with op.batch_alter_table("bridge", **BATCH) as batch:
        for name, length in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bridge", **BATCH) as batch:
        for name, _length in reversed(_COLUMNS):
            batch.drop_column(name)
