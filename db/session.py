# -*- test-case-name: tests.db.test_session -*-
"""Engines, sessions, and running database work on our own thread pool, off the reactor.

Code that reads or changes records takes a ``Session`` argument and never opens one: the caller
chooses the unit of work, usually ``begin(factory)`` (commit on success, roll back on error,
close) or ``Database.run(fn, ...)``, which does the same on a pool thread and returns a Deferred.
Sessions are made with ``expire_on_commit=False`` so the objects a unit of work returns can
still be read after it commits (they are detached snapshots; never share them between threads
to write through them).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from db.prepared import Cursor

__all__ = ["INSERT_BY_DIALECT", "dialect_insert", "make_engine", "make_session_factory", "begin",
           "run_in_pool", "Database", "unit_of_work", "direct_unit_of_work", "is_locked",
           "locked_pause", "LOCKED_RETRIES"]

P = ParamSpec("P")
T = TypeVar("T")

#: Each back end's INSERT construct: theirs have ON CONFLICT, the generic one has not. Keyed by
#: dialect name, for statements built once per back end.
INSERT_BY_DIALECT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The INSERT construct (with ON CONFLICT) of the back end ``session`` is bound to."""
    return INSERT_BY_DIALECT[session.get_bind().dialect.name]


#: How long SQLite waits for another writer before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """Per-connection SQLite settings: WAL (readers never wait for the writer), foreign keys
    enforced like PostgreSQL does, a busy timeout instead of instant 'locked' errors; and
    transactions left to SQLAlchemy (pysqlite's own BEGIN handling skips DDL and SAVEPOINTs)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Units of work from Database.run/unit take the write lock up front (IMMEDIATE): with 200
    # calls in 10 s, deferred transactions that read and then write kept losing the race to
    # upgrade their snapshot ("database is locked" at once, whatever the busy timeout); queued
    # IMMEDIATE writers wait their turn instead. Other transactions (commands, tests, reads)
    # stay deferred so they never hold the write lock while only reading.
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``: SQLite gets the settings above; PostgreSQL goes through psycopg 3.

    A ``postgresql://`` URL without a driver is taken as ``postgresql+psycopg://``. Extra keyword
    arguments go to ``create_engine``.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The sessionmaker that lives with the engine; it may be shared, its sessions may not."""
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def begin(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: a session in a transaction, committed if the block ends normally,
    rolled back if it raises, closed either way."""
    with factory.begin() as session:
        yield session


#: Execution option asking SQLite for BEGIN IMMEDIATE (ignored by PostgreSQL).
IMMEDIATE_OPTION = "hotline_immediate"

#: Attempts of one unit of work that SQLite refused with "database is locked". This is the
#: controller's one retry policy for it: callers (the scheduler, speech-to-text, the
#: finaliser, the web) go through ``Database.run``/``unit`` and never retry on top, or one
#: write would be tried tries × tries times.
LOCKED_RETRIES = 8


def is_locked(error: BaseException) -> bool:
    """Whether C{error} is SQLite refusing a write because another connection holds the lock."""
    return isinstance(error, OperationalError) and (
        "database is locked" in str(error) or "database table is locked" in str(error))


def locked_pause(attempt: int) -> float:
    """Seconds to wait before trying a refused unit again after C{attempt} (0-based) refusals:
    doubling from 10 ms, jittered so that two refused writers do not collide again."""
    return 0.01 * 2 ** attempt * (0.5 + random.random())


def unit_of_work(factory: sessionmaker[Session], fn: Callable[Concatenate[Session, P], T],
                 *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(session, ...)`` in one transaction, committed; blocking (a thread, not the reactor).

    SQLite refuses at once, without waiting for its busy timeout, a transaction that read and
    then must write after another connection committed ("database is locked": its snapshot
    cannot be upgraded). Seen with 200 calls finalised in 10 s, where it lost a call's final
    row. The unit is rolled back, so it is run again from the start, up to L{LOCKED_RETRIES}
    times in all, pausing L{locked_pause} between tries. ``fn`` must keep its effects inside
    the session for that to be safe.
    """
    def attempt() -> T:
        with begin(factory) as session:
            return fn(session, *args, **kwargs)
    return _retried_while_locked(attempt)


def direct_unit_of_work(engine: Engine, fn: Callable[Concatenate[Cursor, P], T],
                        *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(cursor, ...)`` in one transaction on a pooled connection, with no Session: for the
    statements every call runs (L{db.prepared}). Blocking; the same transaction (BEGIN
    IMMEDIATE on SQLite) and the same retries as L{unit_of_work}."""
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error

    def attempt() -> T:
        pooled = engine.raw_connection()
        try:
            try:
                if dialect.name == "sqlite":  # autocommit mode: the transaction is ours to open
                    pooled.dbapi_connection.execute("BEGIN IMMEDIATE")
                result = fn(Cursor(pooled.dbapi_connection, dialect), *args, **kwargs)
                pooled.commit()
                return result
            except dbapi_error as e:
                raise DBAPIError.instance(None, None, e, dbapi_error, dialect=dialect) from e
        except BaseException as e:
            orig = e.orig if isinstance(e, DBAPIError) else None
            if isinstance(orig, dbapi_error) and dialect.is_disconnect(
                    orig, pooled.dbapi_connection, None):
                pooled.invalidate(orig)  # the server went away: not back into the pool
            else:
                with contextlib.suppress(Exception):
                    pooled.rollback()
            raise
        finally:
            pooled.close()
    return _retried_while_locked(attempt)


def _retried_while_locked(attempt: Callable[[], T]) -> T:
    """The one retry policy: a unit SQLite refused as locked is run again from the start."""
    for n in range(LOCKED_RETRIES):
        try:
            return attempt()
        except OperationalError as e:
            if not is_locked(e) or n == LOCKED_RETRIES - 1:
                raise
            time.sleep(locked_pause(n))
    raise AssertionError("unreachable")


def run_in_pool(reactor: IReactorThreads, pool: ThreadPool,
                fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
    """Run blocking ``fn`` on ``pool`` and fire the Deferred in the reactor thread."""
    return deferToThreadPool(reactor, pool, fn, *args, **kwargs)


class Database:
    """The controller's database: engine, sessionmaker and the thread pool that runs the work.

    ``reactor`` is the reactor whose thread gets the results; ``threads`` is
    ``config["database"]["threads"]``. Call ``start()`` before ``run()`` (``from_config`` hooks
    start and stop to the reactor's lifetime when asked), ``stop()`` to join the pool and dispose
    of the engine.
    """

    def __init__(self, url: str, *, threads: int = 8, reactor: IReactorThreads | None = None,
                 **engine_kwargs: Any) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor
            reactor = global_reactor  # type: ignore[assignment]
        self.url = url
        self.reactor = reactor
        engine_kwargs.setdefault("pool_size", threads)
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = make_session_factory(self.engine)
        #: Sessions for units of work: on SQLite they BEGIN IMMEDIATE (see _sqlite_on_begin).
        self.unit_factory = make_session_factory(
            self.engine.execution_options(**{IMMEDIATE_OPTION: True}))
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="hotline-db")

    @classmethod
    def from_config(cls, config: Any, *, reactor: IReactorThreads | None = None) -> Database:
        """The database a ``hotline.config.Config`` names, sized by ``database.threads``."""
        return cls(config.database_url, threads=config["database"]["threads"], reactor=reactor)

    def start(self) -> None:
        """Start the pool's threads (idempotent)."""
        if not self.pool.started:
            self.pool.start()

    def stop(self) -> None:
        """Wait for running work, stop the threads and close every pooled connection."""
        if self.pool.started:
            self.pool.stop()
        self.engine.dispose()

    def begin(self) -> contextlib.AbstractContextManager[Session]:
        """A unit of work in the calling thread (command line, scheduler jobs, tests)."""
        return begin(self.session_factory)

    def run(self, fn: Callable[Concatenate[Session, P], T],
            *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        """Call ``fn(session, *args, **kwargs)`` in one unit of work on a pool thread.

        The Deferred fires in the reactor thread with ``fn``'s result once committed, or fails
        with its exception after rollback. This is how AGI scripts and web resources reach the
        services without blocking the reactor.
        """
        return run_in_pool(self.reactor, self.pool, unit_of_work, self.unit_factory, fn,
                           *args, **kwargs)

    def run_direct(self, fn: Callable[Concatenate[Cursor, P], T],
                   *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        """``run`` without a Session: ``fn(cursor, *args, **kwargs)`` runs L{db.prepared}
        statements on a pooled connection (the per-call paths, where the Session's cost was
        most of the work)."""
        return run_in_pool(self.reactor, self.pool, direct_unit_of_work, self.engine, fn,
                           *args, **kwargs)

    def unit(self, fn: Callable[Concatenate[Session, P], T],
             *args: P.args, **kwargs: P.kwargs) -> T:
        """``run`` for code already on a worker thread: blocking, same retries."""
        return unit_of_work(self.unit_factory, fn, *args, **kwargs)
