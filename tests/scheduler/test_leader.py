"""One scheduler leads: an advisory lock on PostgreSQL, the only node on SQLite."""

from __future__ import annotations

import os

import pytest
import pytest_twisted
from twisted.internet import reactor

from db.session import make_engine
from scheduler.leader import Leadership
from tests.support.waiting import sleep, until


def _leadership(url: str, changes: list, name: str) -> Leadership:
    return Leadership(engine=make_engine(url), reactor=reactor, lock_key=4242, poll_s=0.2,
                      on_change=lambda leading: changes.append((name, leading)), node=name)


@pytest_twisted.ensureDeferred
async def test_sqlite_node_leads_at_once(tmp_path):
    """On SQLite there is one node: it leads as soon as it starts, and stops leading on stop."""
    changes: list = []
    node = _leadership(f"sqlite:///{tmp_path / 'x.db'}", changes, "only")
    node.start()
    assert node.leading and changes == [("only", True)]
    await node.stop()
    assert changes == [("only", True), ("only", False)]


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_one_of_two_leads_and_the_other_takes_over(postgres_server):
    """Two nodes on one PostgreSQL: exactly one leads; when its session ends the other
    leads within a few polls."""
    name = f"hotline_leader_{os.getpid()}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    url = postgres_server.url(name)
    changes: list = []
    a, b = _leadership(url, changes, "a"), _leadership(url, changes, "b")
    try:
        a.start()
        await until(lambda: a.leading, timeout=5)
        b.start()
        await sleep(1.0)
        assert a.leading and not b.leading
        await a.stop()
        await until(lambda: b.leading, timeout=5)
        assert changes == [("a", True), ("a", False), ("b", True)]
        # A leader whose session is killed steps down at its next poll.
        postgres_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        await until(lambda: not b.leading, timeout=5)
        await until(lambda: b.leading, timeout=5)  # nobody else holds it: it takes it again
    finally:
        await a.stop()
        await b.stop()
        a.engine.dispose()
        b.engine.dispose()
        postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
