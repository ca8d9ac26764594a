"""The Alembic migrations build exactly the schema the models describe, on both back ends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from db import migrate
from db.models import REVISION_0002_TABLES, Base
from db.session import make_engine
from hotline.cli.main import main


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _schema_diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_empty_database_matches_models(empty_db_url, monkeypatch, capsys):
    """`hotline db upgrade` on an empty database reaches head and autogenerate finds no diff."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", empty_db_url)
    assert main(["db", "upgrade"]) == 0
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    assert _tables(empty_db_url) == set(Base.metadata.tables)
    assert _schema_diff(empty_db_url) == []
    assert main(["db", "current"]) == 0
    assert migrate.head_revision() in capsys.readouterr().out


def test_upgrade_from_previous_revision(empty_db_url, monkeypatch):
    """A database left at 0001 upgrades to head, keeping its rows and adding the 0002 tables."""
    migrate.upgrade(empty_db_url, "0001")
    at_0001 = _tables(empty_db_url)
    assert at_0001 < set(Base.metadata.tables) and not at_0001 & REVISION_0002_TABLES
    engine = make_engine(empty_db_url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO department (code, name, kind, response_time_limit_hours) "
            "VALUES ('D01', '住建委', 'partner', 72)"))
    engine.dispose()
    monkeypatch.setenv("HOTLINE_DATABASE_URL", empty_db_url)
    assert main(["db", "upgrade"]) == 0
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    assert _schema_diff(empty_db_url) == []
    engine = make_engine(empty_db_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT name FROM department")).scalar_one() == "住建委"
    engine.dispose()


def test_downgrade_to_base_removes_everything(empty_db_url):
    """Downgrading from head to base leaves no hotline table behind."""
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    assert migrate.current_revision(empty_db_url) is None


def test_current_is_none_before_any_migration(empty_db_url):
    """An empty database reports no current revision."""
    assert migrate.current_revision(empty_db_url) is None


def test_0013_moves_grid_workers_to_their_level1_grid(empty_db_url):
    """A grid worker seeded on a level-2 grid before 0013 is on its level-1 grid after it, and
    the grid_worker role is accepted by the database."""
    migrate.upgrade(empty_db_url, "0009")
    engine = make_engine(empty_db_url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO grid (id, code, name, level, parent_id) VALUES "
            "(1, 'G001', '第1网格', 1, NULL), (2, 'G001-01', '第1网格1号子网格', 2, 1)"))
        connection.execute(sa.text(
            "INSERT INTO grid_worker (id, grid_id, name, phone) VALUES (1, 2, '王伟', '99910000')"))
    engine.dispose()
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text(
                "SELECT grid_id FROM grid_worker WHERE id = 1")).scalar_one() == 1
            connection.execute(sa.text(
                "INSERT INTO console_user (username, display_name, role, password_hash, active, "
                "created_at) VALUES ('w1', 'w1', 'grid_worker', 'x', true, CURRENT_TIMESTAMP)"))
    finally:
        engine.dispose()


def test_0021_sums_folded_days_into_the_grid_and_category_cuts(empty_db_url):
    """Days folded before 0021 get their grid and category rows summed from their area rows, so
    the tables that now read those cuts show the same figures; downgrading removes them."""
    migrate.upgrade(empty_db_url, "0018")
    engine = make_engine(empty_db_url)
    counters = "demands, repeats, finished, on_time, closed, reopened, surveyed, satisfied"
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO grid (id, code, name, level) VALUES (1, 'G001', 'g1', 1), "
            "(2, 'G002', 'g2', 1)"))
        connection.execute(sa.text(
            f"INSERT INTO index_day (day, cut, grid_id, department_id, category, {counters}) "
            "VALUES ('2026-11-01', 'area', 1, NULL, '供水', 3, 1, 2, 1, 1, 0, 1, 1), "
            "('2026-11-01', 'area', 1, NULL, '噪声', 2, 0, 1, 1, 0, 1, 0, 0), "
            "('2026-11-01', 'area', 2, NULL, '供水', 5, 2, 0, 0, 0, 0, 2, 1), "
            "('2026-11-01', 'department', NULL, NULL, '', 10, 3, 3, 2, 1, 1, 3, 2)"))
    engine.dispose()
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            grid = dict(connection.execute(sa.text(
                "SELECT grid_id, demands FROM index_day WHERE cut = 'grid'")).all())
            category = {c: (n, s) for c, n, s in connection.execute(sa.text(
                "SELECT category, demands, satisfied FROM index_day WHERE cut = 'category'"))}
        assert grid == {1: 5, 2: 5}
        assert category == {"供水": (8, 2), "噪声": (2, 0)}
    finally:
        engine.dispose()
    migrate.downgrade(empty_db_url, "0018")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text(
                "SELECT count(*) FROM index_day")).scalar_one() == 4
    finally:
        engine.dispose()


def test_schema_fingerprint_names_the_head_and_the_chain_text():
    """The benchmarks' cache key starts with the head revision and carries a digest of the chain."""
    head, digest = migrate.schema_fingerprint().split("-", 1)
    assert head == migrate.head_revision()
    assert len(digest) == 10 and int(digest, 16) >= 0
