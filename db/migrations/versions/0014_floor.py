"""On the floor: where a transcript's words come from (live captions or the recordings), and the
citizens who kept their place in the queue to be called back (keep-my-place).

Revision ID: 0014
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transcript", **BATCH) as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False,
                                   server_default="recording"))
    op.create_table(
        "kept_place",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(20), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent_code", sa.String(16), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("call_id", sa.Integer, sa.ForeignKey("call.id"), nullable=True),
        sa.UniqueConstraint("uniqueid"),
    )
    op.create_index("ix_kept_place_status", "kept_place", ["status"])


def downgrade() -> None:
    op.drop_index("ix_kept_place_status", table_name="kept_place")
    op.drop_table("kept_place")
    with op.batch_alter_table("transcript", **BATCH) as batch:
        batch.drop_column("source")
