"""The dimension indices read less (issue 19's speed goals): ``index_day`` gains a ``grid`` cut
(one row per level-1 grid and day) and a ``category`` cut (one per category and day), summed at
fold time, so the grid/community/street and category tables and the trends read a few rows a
day instead of every grid × category row; days already folded get theirs from their ``area``
rows. ``ticket_event.at`` is indexed: the daily fold reads one day's events, which without it
scanned every event ever written.

Revision ID: 0021
Revises: 0018
"""

from __future__ import annotations

from alembic import op

from db.migrations import BATCH

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None

_COUNTERS = ("demands", "repeats", "finished", "on_time", "closed", "reopened", "surveyed",
             "satisfied")
_CUTS_BEFORE = "cut in ('area', 'department')"
_CUTS_AFTER = "cut in ('area', 'grid', 'category', 'department')"


def _set_cut_check(expression: str) -> None:
    with op.batch_alter_table("index_day", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_index_day_cut"), type_="check")
        batch.create_check_constraint(op.f("ck_index_day_cut"), expression)


def upgrade() -> None:
    _set_cut_check(_CUTS_AFTER)
    columns = ", ".join(_COUNTERS)
    sums = ", ".join(f"sum({c})" for c in _COUNTERS)
    op.execute(f"INSERT INTO index_day (day, cut, grid_id, department_id, category, {columns}) "
               f"SELECT day, 'grid', grid_id, NULL, '', {sums} FROM index_day "
               "WHERE cut = 'area' GROUP BY day, grid_id")
    op.execute(f"INSERT INTO index_day (day, cut, grid_id, department_id, category, {columns}) "
               f"SELECT day, 'category', NULL, NULL, category, {sums} FROM index_day "
               "WHERE cut = 'area' GROUP BY day, category")
    op.create_index("ix_ticket_event_at", "ticket_event", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_event_at", table_name="ticket_event")
    op.execute("DELETE FROM index_day WHERE cut IN ('grid', 'category')")
    _set_cut_check(_CUTS_BEFORE)
