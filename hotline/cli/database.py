# -*- test-case-name: tests.cli.test_empty_state -*-
"""The database as commands reach it: the schema brought up to date first, as ``hotline run``
does, so a site's first day (no database yet) or a schema older than the code never ends in a
raw SQLAlchemy traceback; a database that cannot be reached is one line saying so."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.cli.main import CommandError
from hotline.terminal import say

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hotline.config import Config

__all__ = ["ready_url", "unit_of_work", "sqlite_path", "database_problem"]


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix):])


def database_problem(url: str, error: BaseException) -> CommandError:
    """One line for a database that refused us: where, the driver's own words, what to do."""
    where = url.split("@")[-1]
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return CommandError(f"database {where}: {text} (check [database] url and that the "
                        "server runs; `hotline db current` shows the schema)")


def ready_url(cfg: Config) -> str:
    """The configured database's URL once its schema is the code's (created when missing).

    Raises CommandError in one line when the database cannot be reached or migrated."""
    from sqlalchemy.exc import SQLAlchemyError

    from db import migrate

    url = cfg.database_url
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        current, head = migrate.current_revision(url), migrate.head_revision()
        if current != head:
            migrate.upgrade(url)
            say(f"database {url.split('@')[-1]}: schema brought up to date "
                f"({current or 'empty'} -> {head})")
    except SQLAlchemyError as e:
        raise database_problem(url, e) from None
    return url


@contextlib.contextmanager
def unit_of_work(cfg: Config) -> Iterator[Session]:
    """One unit of work on the configured database, its schema up to date; commits on success.
    A database error inside becomes one line (CommandError)."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.session import begin, make_engine, make_session_factory

    url = ready_url(cfg)
    engine = make_engine(url)
    try:
        with begin(make_session_factory(engine)) as session:
            yield session
    except SQLAlchemyError as e:
        raise database_problem(url, e) from None
    finally:
        engine.dispose()


def with_session(cfg: Config, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(session, *args, **kwargs)`` in one unit of work (see L{unit_of_work})."""
    with unit_of_work(cfg) as session:
        return fn(session, *args, **kwargs)
