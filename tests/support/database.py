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
import pwd
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db import migrate
from db.postgres import NoPostgres, PostgresServer, free_port, postgres_bin_dir
from db.session import Database, make_engine, make_session_factory
from tests.support.markers import require

__all__ = ["PostgresServer", "postgres_server", "postgres_cluster", "cluster_parent", "db_url",
           "session", "db"]

BACKENDS = ["sqlite", "postgresql"]
_UNPRIVILEGED_USER = "postgres"
_counter = itertools.count(1)
#: This test run's mark on its clusters' folders (set by the controlling process, inherited by
#: pytest-xdist's workers), so the end-of-run sweep ends this run's clusters and no one else's.
RUN_MARK = os.environ.setdefault("HOTLINE_TEST_RUN", str(os.getpid()))


def _postgres_bin_dir() -> Path:
    try:
        return postgres_bin_dir()
    except NoPostgres as e:
        pytest.fail(f"{e} and run the tests again; database tests are never skipped",
                    pytrace=False)


_free_port = free_port


#: Free space /dev/shm needs before clusters go there (a worker's cluster holds the template and
#: the databases of the tests running, tens of megabytes; Docker's default /dev/shm is 64 MB).
_SHM_ROOM = 2 * 1024**3
_SHM = Path("/dev/shm")


def cluster_parent() -> Path:
    """Where the throw-away clusters live: in memory (``/dev/shm``) when it has room, else the
    temp folder. Each test's database is a clone of the template, a few hundred files made and
    removed again: on tmpfs a clone and drop cost the server ~0.05 s of CPU, on this machine's
    ext4 0.14 to 0.35 s (loops of 120 clones of the migrated template; a worker makes a
    hundred-odd). The data is thrown away at the end either way (fsync is off)."""
    with contextlib.suppress(OSError):
        room = os.statvfs(_SHM)
        if room.f_bavail * room.f_frsize >= _SHM_ROOM and os.access(_SHM, os.W_OK):
            return _SHM
    return Path(tempfile.gettempdir())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test run, removed at the end even on failure."""
    with postgres_cluster() as server:
        yield server


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own (a test that takes it down shares it with nobody),
    removed at the end even on failure."""
    require("postgres", "a PostgreSQL server")
    bin_dir = _postgres_bin_dir()
    base_dir = Path(tempfile.mkdtemp(prefix=f"hotline-pg-{RUN_MARK}-", dir=cluster_parent()))
    server = PostgresServer(bin_dir=bin_dir, base_dir=base_dir, port=_free_port(),
                            user=_UNPRIVILEGED_USER)
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_UNPRIVILEGED_USER)
            os.chown(base_dir, entry.pw_uid, entry.pw_gid)
        base_dir.chmod(0o700)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)


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


def sweep_clusters() -> list[str]:
    """End this run's PostgreSQL clusters that are still up and remove their folders; returns
    what was found (a worker ended by pytest-timeout could not stop its own)."""
    found = []
    for base in (b for parent in (_SHM, Path(tempfile.gettempdir()))  # both places clusters go
                 for b in parent.glob(f"hotline-pg-{RUN_MARK}-*")):
        pid_file = base / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            found.append(f"PostgreSQL in {base}")
        shutil.rmtree(base, ignore_errors=True)
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    left = sweep_clusters()
    if left:
        print("\ntests.support.database: ended what the tests left running:\n  "
              + "\n  ".join(left))
