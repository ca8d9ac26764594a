# -*- test-case-name: tests.db.test_migrations -*-
"""Alembic driven from code: the configuration is found next to this module, the URL is given.

This is what ``hotline db upgrade|current`` and the test fixtures call, so the schema a test
runs on is the one the migrations build, not ``metadata.create_all``.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.session import make_engine

__all__ = ["alembic_config", "upgrade", "downgrade", "current_revision", "head_revision",
           "schema_fingerprint"]

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> AlembicConfig:
    """Alembic's configuration for the database at ``url``, from the ``alembic.ini`` beside us."""
    cfg = AlembicConfig(str(ALEMBIC_INI))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (the newest by default).

    A database already at the head is left without running Alembic at all: the controller and
    each CLI command call this at start, on a database that is nearly always current. The
    migration files are read once per process (``_scripts``); otherwise this is what
    ``alembic.command.upgrade`` does."""
    if revision == "head" and current_revision(url) == head_revision():
        return
    scripts = _scripts()

    def steps(current: Any, _context: Any) -> Any:
        return scripts._upgrade_revs(revision, current)

    with EnvironmentContext(alembic_config(url), scripts, fn=steps, destination_rev=revision):
        scripts.run_env()


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migrations, loaded once per process (Alembic would import all of them again for
    each command; the files do not change under a running program)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The newest revision the code knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def schema_fingerprint() -> str:
    """The head revision and a digest of every migration's text.

    Caches of generated databases (the benchmarks') are keyed by it: two branches can give the
    same head id to different chains while they are being merged, and a cache built on the old
    chain would lack the other's columns.
    """
    digest = hashlib.sha256()
    for version in sorted((ALEMBIC_INI.parent / "migrations" / "versions").glob("*.py")):
        digest.update(version.name.encode() + b"\0" + version.read_bytes())
    return f"{head_revision()}-{digest.hexdigest()[:10]}"
