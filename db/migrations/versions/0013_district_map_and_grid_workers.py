"""The district's map and its grid workers (hotline/grid): streets and communities above the
grids, outlines on every level, the address table, the map imports, ticket coordinates, the
grid_worker role bound to a level-1 grid, reports with idempotency keys and photos, visits,
verification tasks and the daily logs (民情日志).

Grid workers were seeded on level-2 grids; a full-time grid worker is responsible for a level-1
grid and its sub-grids, so existing workers move to their grid's parent (not undone by the
downgrade: the sub-grid they were on is not kept).

Revision ID: 0013
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ROLES_BEFORE = "role in ('agent', 'supervisor', 'admin', 'liaison')"
_ROLES_AFTER = "role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker')"


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "street", _id(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street")),
        sa.UniqueConstraint("code", name=op.f("uq_street_code")),
    )
    op.create_table(
        "community", _id(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"],
                                name=op.f("fk_community_street_id_street")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("code", name=op.f("uq_community_code")),
    )
    op.create_index("ix_community_street_id", "community", ["street_id"])
    with op.batch_alter_table("grid", **BATCH) as batch:
        batch.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("geometry", sa.JSON(), nullable=True))
        batch.create_foreign_key(op.f("fk_grid_community_id_community"), "community",
                                 ["community_id"], ["id"])
        batch.create_index("ix_grid_community_id", ["community_id"])
    with op.batch_alter_table("ticket", **BATCH) as batch:
        batch.add_column(sa.Column("latitude", sa.Double(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Double(), nullable=True))
    with op.batch_alter_table("console_user", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), _ROLES_AFTER)
    with op.batch_alter_table("grid_worker", **BATCH) as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_grid_worker_user_id_console_user"), "console_user",
                                 ["user_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_grid_worker_user_id"), ["user_id"])
    op.execute("UPDATE grid_worker SET grid_id = (SELECT g.parent_id FROM grid g "
               "WHERE g.id = grid_worker.grid_id) WHERE grid_id IN "
               "(SELECT id FROM grid WHERE level = 2 AND parent_id IS NOT NULL)")
    op.create_table(
        "map_import", _id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_import")),
    )
    op.create_table(
        "grid_address", _id(),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"],
                                name=op.f("fk_grid_address_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_address")),
        sa.UniqueConstraint("address", name=op.f("uq_grid_address_address")),
    )
    op.create_index("ix_grid_address_grid_id", "grid_address", ["grid_id"])
    op.create_table(
        "grid_report", _id(),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("made_at", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_grid_report_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["worker_id"], ["grid_worker.id"],
                                name=op.f("fk_grid_report_worker_id_grid_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_report")),
        sa.UniqueConstraint("key", name=op.f("uq_grid_report_key")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_grid_report_ticket_id")),
    )
    op.create_index("ix_grid_report_worker_id", "grid_report", ["worker_id"])
    op.create_table(
        "verification_task", _id(),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("answer_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_verification_task_ticket_id_ticket")),
        sa.ForeignKeyConstraint(["worker_id"], ["grid_worker.id"],
                                name=op.f("fk_verification_task_worker_id_grid_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_task")),
        sa.UniqueConstraint("answer_key", name=op.f("uq_verification_task_answer_key")),
    )
    for column in ("ticket_id", "worker_id", "status"):
        op.create_index(f"ix_verification_task_{column}", "verification_task", [column])
    op.create_table(
        "ticket_photo", _id(),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("taken_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["verification_task.id"],
                                name=op.f("fk_ticket_photo_task_id_verification_task")),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"],
                                name=op.f("fk_ticket_photo_ticket_id_ticket")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_photo")),
    )
    op.create_index("ix_ticket_photo_ticket_id", "ticket_photo", ["ticket_id"])
    op.create_index("ix_ticket_photo_sha256", "ticket_photo", ["sha256"])
    op.create_table(
        "grid_visit", _id(),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("visitee", sa.String(length=100), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("visited_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_grid_visit_grid_id_grid")),
        sa.ForeignKeyConstraint(["worker_id"], ["grid_worker.id"],
                                name=op.f("fk_grid_visit_worker_id_grid_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_visit")),
        sa.UniqueConstraint("key", name=op.f("uq_grid_visit_key")),
    )
    for column in ("worker_id", "grid_id", "visited_at"):
        op.create_index(f"ix_grid_visit_{column}", "grid_visit", [column])
    op.create_table(
        "grid_log", _id(),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["worker_id"], ["grid_worker.id"],
                                name=op.f("fk_grid_log_worker_id_grid_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_log")),
    )
    op.create_index("ix_grid_log_worker_day", "grid_log", ["worker_id", "day"], unique=True)
    op.create_index("ix_grid_log_day", "grid_log", ["day"])


def downgrade() -> None:
    op.drop_index("ix_grid_log_day", table_name="grid_log")
    op.drop_index("ix_grid_log_worker_day", table_name="grid_log")
    op.drop_table("grid_log")
    for column in ("visited_at", "grid_id", "worker_id"):
        op.drop_index(f"ix_grid_visit_{column}", table_name="grid_visit")
    op.drop_table("grid_visit")
    op.drop_index("ix_ticket_photo_sha256", table_name="ticket_photo")
    op.drop_index("ix_ticket_photo_ticket_id", table_name="ticket_photo")
    op.drop_table("ticket_photo")
    for column in ("status", "worker_id", "ticket_id"):
        op.drop_index(f"ix_verification_task_{column}", table_name="verification_task")
    op.drop_table("verification_task")
    op.drop_index("ix_grid_report_worker_id", table_name="grid_report")
    op.drop_table("grid_report")
    op.drop_index("ix_grid_address_grid_id", table_name="grid_address")
    op.drop_table("grid_address")
    op.drop_table("map_import")
    with op.batch_alter_table("grid_worker", **BATCH) as batch:
        batch.drop_constraint(op.f("uq_grid_worker_user_id"), type_="unique")
        batch.drop_constraint(op.f("fk_grid_worker_user_id_console_user"), type_="foreignkey")
        batch.drop_column("user_id")
    op.execute("DELETE FROM console_session WHERE user_id IN "
               "(SELECT id FROM console_user WHERE role = 'grid_worker')")
    op.execute("DELETE FROM ticket_draft WHERE user_id IN "
               "(SELECT id FROM console_user WHERE role = 'grid_worker')")
    op.execute("DELETE FROM console_user WHERE role = 'grid_worker'")
    with op.batch_alter_table("console_user", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), _ROLES_BEFORE)
    with op.batch_alter_table("ticket", **BATCH) as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
    with op.batch_alter_table("grid", **BATCH) as batch:
        batch.drop_index("ix_grid_community_id")
        batch.drop_constraint(op.f("fk_grid_community_id_community"), type_="foreignkey")
        batch.drop_column("geometry")
        batch.drop_column("community_id")
    op.drop_index("ix_community_street_id", table_name="community")
    op.drop_table("community")
    op.drop_table("street")
