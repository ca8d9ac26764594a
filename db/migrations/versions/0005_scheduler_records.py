"""Timed-reply scheduler records (scheduler/): callback scheduling columns, attempt keys,
survey calls and the scheduler's shared state.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_CALLBACK_COLUMNS = (
    ("next_attempt_at", _TS, True),
    ("outcome", sa.String(length=16), True),
    ("sla_deadline_at", _TS, True),
    ("late", sa.Boolean(), True),
    ("first_attempt_at", _TS, True),
    ("quiet_hours_moved", sa.Boolean(), False),
    ("department_reminded_at", _TS, True),
    ("agent_reminded_at", _TS, True),
    ("escalated_at", _TS, True),
    ("handed_over_at", _TS, True),
)


def upgrade() -> None:
    with op.batch_alter_table("callback", **BATCH) as batch:
        for name, type_, nullable in _CALLBACK_COLUMNS:
            default = sa.false() if name == "quiet_hours_moved" else None
            batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
        batch.create_index(op.f("ix_callback_next_attempt_at"), ["next_attempt_at"],
                           unique=False)
    # The server default only filled existing rows; the model supplies the value from now on.
    with op.batch_alter_table("callback", **BATCH) as batch:
        batch.alter_column("quiet_hours_moved", server_default=None)
    with op.batch_alter_table("callback_attempt", **BATCH) as batch:
        batch.add_column(sa.Column("attempt_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("citizen_answered_at", _TS, nullable=True))
        batch.add_column(sa.Column("detail", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(op.f("uq_callback_attempt_attempt_key"), ["attempt_key"])
    op.create_table(
        "survey_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("attempt_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_survey_call_ticket_id_ticket")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_call")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_survey_call_ticket_id")),
    )
    op.create_index(op.f("ix_survey_call_status"), "survey_call", ["status"], unique=False)
    op.create_index(op.f("ix_survey_call_next_attempt_at"), "survey_call", ["next_attempt_at"],
                    unique=False)
    op.create_table(
        "scheduler_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scheduler_state")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_state")
    op.drop_index(op.f("ix_survey_call_next_attempt_at"), table_name="survey_call")
    op.drop_index(op.f("ix_survey_call_status"), table_name="survey_call")
    op.drop_table("survey_call")
    with op.batch_alter_table("callback_attempt", **BATCH) as batch:
        batch.drop_constraint(op.f("uq_callback_attempt_attempt_key"), type_="unique")
        batch.drop_column("detail")
        batch.drop_column("citizen_answered_at")
        batch.drop_column("attempt_key")
    with op.batch_alter_table("callback", **BATCH) as batch:
        batch.drop_index(op.f("ix_callback_next_attempt_at"))
        for name, _type, _nullable in reversed(_CALLBACK_COLUMNS):
            batch.drop_column(name)
