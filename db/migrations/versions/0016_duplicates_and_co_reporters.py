"""Duplicates at intake, co-reporters and incidents replied once (issue 18): the citizens who
reported a ticket's problem after its first reporter, the indexes the duplicate candidates of
one intake are read by (same grid and category within a window; the same category without a
grid), and when and by whom an incident was replied.

Revision ID: 0016
Revises: 0014 (written on 0010; re-chained onto main's head, issue 21's floor)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_TICKET_INDEXES = {
    "ix_ticket_grid_category_created": ["grid_id", "category", "created_at"],
    "ix_ticket_category_created": ["category", "created_at"],
}


def upgrade() -> None:
    op.create_table(
        "ticket_reporter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_ticket_reporter_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"],
                                name=op.f("fk_ticket_reporter_citizen_id_citizen")),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"],
                                name=op.f("fk_ticket_reporter_call_id_call")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_reporter")),
    )
    op.create_index("ix_ticket_reporter_ticket_citizen", "ticket_reporter",
                    ["ticket_id", "citizen_id"], unique=True)
    op.create_index(op.f("ix_ticket_reporter_citizen_id"), "ticket_reporter", ["citizen_id"],
                    unique=False)
    for name, columns in _TICKET_INDEXES.items():
        op.create_index(name, "ticket", columns, unique=False)
    with op.batch_alter_table("incident", **BATCH) as batch:
        batch.add_column(sa.Column("replied_at", _TS, nullable=True))
        batch.add_column(sa.Column("replied_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", **BATCH) as batch:
        batch.drop_column("replied_by")
        batch.drop_column("replied_at")
    for name in _TICKET_INDEXES:
        op.drop_index(name, table_name="ticket")
    op.drop_index(op.f("ix_ticket_reporter_citizen_id"), table_name="ticket_reporter")
    op.drop_index("ix_ticket_reporter_ticket_citizen", table_name="ticket_reporter")
    op.drop_table("ticket_reporter")
