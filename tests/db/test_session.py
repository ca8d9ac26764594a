"""Engines, units of work and the thread pool that keeps database work off the reactor."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, text

from db.models import Citizen, Department
from db.session import Database, begin, make_engine, make_session_factory


class ThreadReactor:
    """Just enough reactor for deferToThreadPool: results delivered on the pool thread."""

    def callFromThread(self, f, *args, **kwargs):  # noqa: N802 - Twisted's name
        f(*args, **kwargs)


def _wait(d):
    done = threading.Event()
    box = []
    d.addBoth(lambda r: (box.append(r), done.set()))
    assert done.wait(10)
    return box[0]


def test_sqlite_connection_settings(tmp_path):
    """SQLite connections run in WAL mode with foreign keys enforced and a busy timeout."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_begin_commits_or_rolls_back(db_url):
    """`begin` commits a block that ends normally and rolls back one that raises."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    with begin(factory) as session:
        session.add(Department(code="D01", name="住建委", kind="partner"))
    with pytest.raises(RuntimeError), begin(factory) as session:
        session.add(Department(code="D02", name="交通委", kind="partner"))
        raise RuntimeError("boom")
    with begin(factory) as session:
        assert session.scalars(select(Department.code)).all() == ["D01"]
    engine.dispose()


def test_foreign_keys_enforced(session):
    """A row pointing at a missing parent is refused on both back ends."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO grid_worker (grid_id, name) VALUES (999, 'x')"))
        session.flush()


def test_times_come_back_aware_utc_and_naive_is_refused(session):
    """Datetimes are returned in UTC with a zone, and a naive datetime is refused."""
    shanghai = dt.timezone(dt.timedelta(hours=8))
    session.add(Citizen(phone="13812340000", created_at=dt.datetime(2026, 1, 1, 8, tzinfo=shanghai)))
    session.commit()
    session.expire_all()
    created = session.scalars(select(Citizen.created_at)).one()
    assert created == dt.datetime(2026, 1, 1, 0, tzinfo=dt.UTC) and created.utcoffset() == dt.timedelta(0)
    session.add(Citizen(phone="13812340001", created_at=dt.datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        session.flush()


def test_database_run_off_the_calling_thread(db_url):
    """`Database.run` runs the function in a unit of work on a pool thread and commits."""
    database = Database(db_url, threads=2, reactor=ThreadReactor())
    database.start()
    try:
        caller = threading.get_ident()

        def add(session, code):
            session.add(Department(code=code, name="名", kind="utility"))
            return threading.get_ident()

        worker = _wait(database.run(add, "U01"))
        assert worker != caller
        with database.begin() as session:
            assert session.scalars(select(Department.code)).all() == ["U01"]

        def fail(session):
            session.add(Department(code="U02", name="名", kind="utility"))
            raise ValueError("refused")

        failure = _wait(database.run(fail))
        assert failure.check(ValueError)
        with database.begin() as session:
            assert session.scalars(select(Department.code)).all() == ["U01"]
    finally:
        database.stop()


def test_database_from_config(tmp_path):
    """A Database built from the configuration uses its URL and thread count."""
    from hotline.config import loads

    cfg = loads(f'[site]\nstate_dir = "{tmp_path}"\n[database]\nthreads = 3\n')
    database = Database.from_config(cfg, reactor=ThreadReactor())
    assert database.url == f"sqlite:///{tmp_path}/hotline.db"
    assert database.pool.max == 3
    database.stop()


def _other_writer_can_start(path) -> bool:
    """Whether a second connection gets SQLite's write lock right now (no waiting)."""
    import sqlite3

    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as e:
        assert "locked" in str(e)
        return False
    finally:
        other.close()


def test_units_of_work_take_sqlites_write_lock_up_front_other_transactions_do_not(tmp_path):
    """Database.unit/run begin IMMEDIATE (no lost upgrade races under load); db.begin() stays
    deferred, so a command or test that only reads never blocks the controller's writers."""
    path = tmp_path / "lock.db"
    database = Database(f"sqlite:///{path}", threads=1)
    try:
        with database.begin() as s:
            s.execute(text("CREATE TABLE t (x INTEGER)"))
        def reads_then_asks(s):
            s.execute(text("SELECT count(*) FROM t")).scalar()
            return _other_writer_can_start(path)
        assert database.unit(reads_then_asks) is False
        with database.begin() as s:
            s.execute(text("SELECT count(*) FROM t")).scalar()
            assert _other_writer_can_start(path) is True
    finally:
        database.engine.dispose()


def test_unit_refused_as_locked_is_run_again(tmp_path, monkeypatch):
    """A unit SQLite refuses with "database is locked" is rolled back and tried again."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    database = Database(f"sqlite:///{tmp_path / 'retry.db'}", threads=1)
    tries = []

    def flaky(session):
        tries.append(1)
        if len(tries) < 3:
            raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
        return "done"
    try:
        assert database.unit(flaky) == "done"
        assert len(tries) == 3
        tries.clear()

        def broken(session):
            tries.append(1)
            raise OperationalError("UPDATE", {}, sqlite3.OperationalError("no such table: x"))
        with pytest.raises(OperationalError, match="no such table"):
            database.unit(broken)
        assert len(tries) == 1  # other errors are not retried
    finally:
        database.engine.dispose()
