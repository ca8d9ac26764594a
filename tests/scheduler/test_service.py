"""The scheduler's own use of the database pool, on a real SQLite database (no PBX)."""

from __future__ import annotations

import threading
import time

import pytest_twisted
from sqlalchemy import text
from twisted.internet import reactor
from twisted.internet.defer import gatherResults

from db.session import Database
from hotline import config as config_mod
from scheduler.service import CallbackScheduler


@pytest_twisted.ensureDeferred
async def test_units_of_work_run_one_at_a_time_and_all_complete(tmp_path):
    """However many units of work the scheduler starts at once (a burst), they run on the
    database's threads one after another: further threads running SQLAlchemy would only make
    the reactor wait for the GIL (bench.scheduler). None is lost, each returns its result."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    cfg = config_mod.loads("").with_overrides({
        "site": {"state_dir": str(tmp_path)}, "database": {"url": url}})
    db = Database(url, threads=8, reactor=reactor)
    db.start()
    lock = threading.Lock()
    running, most = [0], [0]

    def unit(session, n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.005)  # long enough for a second thread to overlap if allowed
            return session.execute(text("SELECT :n"), {"n": n}).scalar_one()
        finally:
            with lock:
                running[0] -= 1

    try:
        service = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
        results = await gatherResults([service._db(unit, n) for n in range(40)])
    finally:
        db.stop()
    assert results == list(range(40))
    assert most[0] == 1


@pytest_twisted.ensureDeferred
async def test_a_locked_unit_is_tried_as_often_as_the_one_policy_says(tmp_path, monkeypatch):
    """A unit SQLite keeps refusing as locked is tried ``LOCKED_RETRIES`` times in all through
    the scheduler (the database's one retry policy, with no second loop around it), then its
    error reaches the caller."""
    import sqlite3

    import pytest
    from sqlalchemy.exc import OperationalError

    from db import session as session_mod

    monkeypatch.setattr(session_mod, "locked_pause", lambda attempt: 0.0)
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    cfg = config_mod.loads("").with_overrides({
        "site": {"state_dir": str(tmp_path)}, "database": {"url": url}})
    db = Database(url, threads=2, reactor=reactor)
    db.start()
    tries = []

    def refused(session):
        tries.append(1)
        raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))

    try:
        service = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
        with pytest.raises(OperationalError, match="locked"):
            await service._db(refused)
    finally:
        db.stop()
    assert len(tries) == session_mod.LOCKED_RETRIES


def test_ticket_notices_reach_listeners_over_the_bus_and_stop_when_removed(tmp_path):
    """A deadline notice the scheduler sends reaches every ticket-notice listener through the
    bus (a failing listener harms none after it), and a removed listener hears no more."""
    from scheduler.deadlines import TicketNotice

    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    cfg = config_mod.loads("").with_overrides({
        "site": {"state_dir": str(tmp_path)}, "database": {"url": url}})
    db = Database(url, threads=1, reactor=reactor)
    service = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
    heard: list[TicketNotice] = []

    def broken(notice: TicketNotice) -> None:
        raise RuntimeError("a listener that fails")

    service.on_ticket_notice(broken)
    remove = service.on_ticket_notice(heard.append)
    first = TicketNotice(notice={"id": 1, "text": "临期提醒"})
    service._ticket_notify(first)
    service._ticket_notify(None)
    remove()
    service._ticket_notify(TicketNotice(ticket={"id": 2}))
    assert heard == [first]
    assert service.bus.listening(TicketNotice)
