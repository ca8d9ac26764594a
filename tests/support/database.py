"""Database fixtures: a real PostgreSQL server started by the test run, and a fresh database per
test on SQLite and on PostgreSQL, its schema built by the Alembic migrations.

``db_url`` is parametrized over both back ends, so every test that uses it (or ``session`` /
``db``) runs twice. The schema is migrated once per run into a template (a SQLite file that is
copied, a PostgreSQL template database that ``CREATE DATABASE ... TEMPLATE`` clones), so each
test starts from exactly what ``hotline db upgrade`` builds, quickly.

PostgreSQL comes from Debian's ``postgresql`` package. When its binaries are missing the fixture
fails, never skips: a green run must mean both back ends were exercised.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db import migrate
from db.session import Database, make_engine, make_session_factory
from hotline.sim.postgres import PostgresMissing, PostgresServer
from hotline.sim.postgres import postgres_cluster as _cluster

__all__ = ["PostgresServer", "postgres_server", "postgres_cluster", "db_url", "session", "db"]

BACKENDS = ["sqlite", "postgresql"]
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test run, removed at the end even on failure."""
    with postgres_cluster() as server:
        yield server


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own (a test that takes it down shares it with nobody),
    removed at the end even on failure; missing binaries fail the test, never skip it."""
    try:
        with _cluster() as server:
            yield server
    except PostgresMissing as e:
        pytest.fail(f"{e} and run the tests again; database tests are never skipped",
                    pytrace=False)


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated to head once, cloned for each test."""
    postgres_server.admin("CREATE DATABASE hotline_template")
    migrate.upgrade(postgres_server.url("hotline_template"))
    return "hotline_template"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (no tables) on each back end; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"hotline_empty_{os.getpid()}_{next(_counter)}"
    server.admin(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database at the newest schema revision, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "hotline.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template_name: str = request.getfixturevalue("_postgres_template")
    name = f"hotline_test_{os.getpid()}_{next(_counter)}"
    server.admin(f"CREATE DATABASE {name} TEMPLATE {template_name}")
    try:
        yield server.url(name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the fresh database; the test commits or flushes as the code under test
    would. Closed and its engine disposed afterwards."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    s = factory()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A started ``Database`` (engine, sessionmaker, thread pool) on the fresh database."""
    from twisted.internet import reactor

    database = Database(db_url, threads=2, reactor=reactor)
    database.start()
    try:
        yield database
    finally:
        database.stop()
