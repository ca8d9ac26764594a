"""The ticket's life after intake (hotline/tickets): the dispatcher role, the ticket's version
and statutory clock, co-handling departments, extension requests, reply attachments, the site's
working-day exceptions, department notices with their reminder calls, and one survey per ticket
and round (a reopened ticket is surveyed again).

Revision ID: 0010
Revises: 0013 (written on 0009; re-chained onto main's head, the map and grid workers)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0010"
down_revision = "0013"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ROLES_BEFORE = "role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker')"
_ROLES_AFTER = ("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                "'dispatcher')")

_TICKET_COLUMNS = [
    sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    sa.Column("clock_started_at", _TS, nullable=True),
    sa.Column("due_at", _TS, nullable=True),
    sa.Column("warn_at", _TS, nullable=True),
    sa.Column("first_contact_due_at", _TS, nullable=True),
    sa.Column("first_contacted_at", _TS, nullable=True),
    sa.Column("warned_at", _TS, nullable=True),
    sa.Column("overdue_at", _TS, nullable=True),
    sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False),
    sa.Column("needs_completion", sa.Boolean(), server_default=sa.false(), nullable=False),
]

_TICKET_INDEXES = {
    "ix_ticket_status_created": ["status", "created_at"],
    "ix_ticket_status_due": ["status", "due_at"],
    "ix_ticket_department_status_due": ["department_id", "status", "due_at"],
    "ix_ticket_warn_scan": ["status", "warned_at", "warn_at"],
    "ix_ticket_overdue_scan": ["status", "overdue_at", "due_at"],
    "ix_ticket_needs_completion": ["needs_completion", "created_at"],
}


def _set_role_check(expression: str) -> None:
    with op.batch_alter_table("console_user", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), expression)


def upgrade() -> None:
    _set_role_check(_ROLES_AFTER)
    with op.batch_alter_table("ticket", **BATCH) as batch:
        for column in _TICKET_COLUMNS:
            batch.add_column(column.copy())
    for name, columns in _TICKET_INDEXES.items():
        op.create_index(name, "ticket", columns, unique=False)
    with op.batch_alter_table("department", **BATCH) as batch:
        batch.add_column(sa.Column("duty_number", sa.String(length=20), nullable=True))
    with op.batch_alter_table("survey_call", **BATCH) as batch:
        batch.drop_constraint(op.f("uq_survey_call_ticket_id"), type_="unique")
        batch.add_column(sa.Column("round", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_survey_call_ticket_round", "survey_call", ["ticket_id", "round"],
                    unique=True)

    op.create_table(
        "ticket_co_department",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_ticket_co_department_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"],
                                name=op.f("fk_ticket_co_department_department_id_department")),
        sa.PrimaryKeyConstraint("ticket_id", "department_id",
                                name=op.f("pk_ticket_co_department")),
    )
    op.create_index(op.f("ix_ticket_co_department_department_id"), "ticket_co_department",
                    ["department_id"], unique=False)
    op.create_table(
        "ticket_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("days", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=50), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("decided_by", sa.String(length=50), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("old_due_at", _TS, nullable=True),
        sa.Column("new_due_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_ticket_extension_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"],
                                name=op.f("fk_ticket_extension_department_id_department")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_extension")),
    )
    op.create_index(op.f("ix_ticket_extension_ticket_id"), "ticket_extension", ["ticket_id"],
                    unique=False)
    op.create_index("ix_ticket_extension_pending", "ticket_extension",
                    ["status", "requested_at"], unique=False)
    op.create_index("ix_ticket_extension_department", "ticket_extension",
                    ["department_id", "status", "requested_at"], unique=False)
    op.create_table(
        "ticket_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("uploaded_by", sa.String(length=50), nullable=False),
        sa.Column("uploaded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_ticket_attachment_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["event_id"], ["ticket_event.id"],
                                name=op.f("fk_ticket_attachment_event_id_ticket_event")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachment")),
    )
    op.create_index(op.f("ix_ticket_attachment_ticket_id"), "ticket_attachment", ["ticket_id"],
                    unique=False)
    op.create_table(
        "work_calendar_day",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("workday", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_work_calendar_day")),
    )
    op.create_table(
        "department_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("duty_number", sa.String(length=20), nullable=True),
        sa.Column("call_status", sa.String(length=16), nullable=False),
        sa.Column("call_attempts", sa.Integer(), nullable=False),
        sa.Column("call_next_at", _TS, nullable=True),
        sa.Column("call_key", sa.String(length=64), nullable=True),
        sa.Column("call_outcome", sa.String(length=16), nullable=True),
        sa.Column("call_digit", sa.String(length=4), nullable=True),
        sa.Column("call_finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_department_notice_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"],
                                name=op.f("fk_department_notice_department_id_department")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_notice")),
    )
    op.create_index(op.f("ix_department_notice_ticket_id"), "department_notice", ["ticket_id"],
                    unique=False)
    op.create_index(op.f("ix_department_notice_department_id"), "department_notice",
                    ["department_id"], unique=False)
    op.create_index(op.f("ix_department_notice_at"), "department_notice", ["at"], unique=False)
    op.create_index("ix_department_notice_call", "department_notice",
                    ["call_status", "call_next_at"], unique=False)


def downgrade() -> None:
    op.drop_table("department_notice")
    op.drop_table("work_calendar_day")
    op.drop_table("ticket_attachment")
    op.drop_table("ticket_extension")
    op.drop_table("ticket_co_department")
    op.drop_index("ix_survey_call_ticket_round", table_name="survey_call")
    with op.batch_alter_table("survey_call", **BATCH) as batch:
        batch.drop_column("round")
        batch.create_unique_constraint(op.f("uq_survey_call_ticket_id"), ["ticket_id"])
    with op.batch_alter_table("department", **BATCH) as batch:
        batch.drop_column("duty_number")
    for name in _TICKET_INDEXES:
        op.drop_index(name, table_name="ticket")
    with op.batch_alter_table("ticket", **BATCH) as batch:
        for column in reversed(_TICKET_COLUMNS):
            batch.drop_column(column.name)
    _set_role_check(_ROLES_BEFORE)
