"""Supervisor report records (hotline/reports): stored reports, the index the three rates
read ticket events by, and the covering index the SLA report reads callbacks by.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_record")),
    )
    op.create_index("ix_report_record_kind_day", "report_record", ["kind", "day"], unique=True)
    op.create_index("ix_ticket_event_action_at", "ticket_event", ["action", "at"], unique=False)
    op.create_index("ix_callback_report", "callback",
                    ["due_at", "status", "sla_met", "reached_at", "sla_deadline_at", "ticket_id",
                     "owner_agent_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_callback_report", table_name="callback")
    op.drop_index("ix_ticket_event_action_at", table_name="ticket_event")
    op.drop_index("ix_report_record_kind_day", table_name="report_record")
    op.drop_table("report_record")
