"""Speech-to-text job records (hotline/stt): attempts, retry time, claim, suggestion, note link.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("transcript", **BATCH) as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False,
                                   server_default="call"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("retry_at", _TS, nullable=True))
        batch.add_column(sa.Column("worker", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_at", _TS, nullable=True))
        batch.add_column(sa.Column("suggestion", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ticket_event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_transcript_ticket_event_id_ticket_event"),
                                 "ticket_event", ["ticket_event_id"], ["id"])
        batch.create_index("ix_transcript_call_kind", ["call_id", "kind"], unique=True)
    # The server defaults only filled existing rows; the model supplies the values from now on.
    with op.batch_alter_table("transcript", **BATCH) as batch:
        batch.alter_column("kind", server_default=None)
        batch.alter_column("attempts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("transcript", **BATCH) as batch:
        batch.drop_index("ix_transcript_call_kind")
        batch.drop_constraint(op.f("fk_transcript_ticket_event_id_ticket_event"),
                              type_="foreignkey")
        for name in ("ticket_event_id", "suggestion", "claimed_at", "worker", "retry_at",
                     "attempts", "kind"):
            batch.drop_column(name)
