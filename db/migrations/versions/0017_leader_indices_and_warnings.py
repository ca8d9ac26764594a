"""What the district leader reads (hotline/indices): the leader role, residents per grid, the
daily aggregate of the dimension indices, the days folded into it, early warnings and the
month's topic (每月一题).

Revision ID: 0017
Revises: 0016 (written on 0010; re-chained onto main's head: issue 21's 0014, issue 18's 0016)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ROLES_BEFORE = ("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                 "'dispatcher')")
_ROLES_AFTER = ("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                "'dispatcher', 'leader')")
_COUNTERS = ("demands", "repeats", "finished", "on_time", "closed", "reopened", "surveyed",
             "satisfied")


def _set_role_check(expression: str) -> None:
    with op.batch_alter_table("console_user", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), expression)


def upgrade() -> None:
    _set_role_check(_ROLES_AFTER)
    with op.batch_alter_table("grid", **BATCH) as batch:
        batch.add_column(sa.Column("population", sa.Integer(), nullable=True))
    op.create_table(
        "index_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cut", sa.String(length=12), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_index_day_grid_id_grid")),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"],
                                name=op.f("fk_index_day_department_id_department")),
        sa.CheckConstraint("cut in ('area', 'department')", name=op.f("ck_index_day_cut")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_day")),
    )
    op.create_index("ix_index_day_cut_day", "index_day", ["cut", "day"], unique=False)
    op.create_table(
        "index_fold",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("folded_at", _TS, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_index_fold")),
    )
    op.create_table(
        "early_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Double(), nullable=False),
        sa.Column("control_limit", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", _TS, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("handled_by", sa.String(length=50), nullable=True),
        sa.CheckConstraint("status in ('open', 'tasked', 'dismissed')",
                           name=op.f("ck_early_warning_status")),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"],
                                name=op.f("fk_early_warning_grid_id_grid")),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_early_warning_ticket_id_ticket")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_warning")),
    )
    op.create_index("ix_early_warning_cell", "early_warning", ["day", "grid_id", "category"],
                    unique=True)
    op.create_table(
        "monthly_topic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("picked_by", sa.String(length=50), nullable=False),
        sa.Column("picked_at", _TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"],
                                name=op.f("fk_monthly_topic_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_topic")),
        sa.UniqueConstraint("month", name=op.f("uq_monthly_topic_month")),
    )


def downgrade() -> None:
    op.drop_table("monthly_topic")
    op.drop_index("ix_early_warning_cell", table_name="early_warning")
    op.drop_table("early_warning")
    op.drop_table("index_fold")
    op.drop_index("ix_index_day_cut_day", table_name="index_day")
    op.drop_table("index_day")
    with op.batch_alter_table("grid", **BATCH) as batch:
        batch.drop_column("population")
    op.execute("UPDATE console_user SET role = 'supervisor' WHERE role = 'leader'")
    _set_role_check(_ROLES_BEFORE)
