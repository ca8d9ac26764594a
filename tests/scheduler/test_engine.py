"""The due book on APScheduler's TwistedScheduler (real reactor, sub-second times)."""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from twisted.internet import reactor

from scheduler.engine import JOB_DEFAULTS, DueBook, make_scheduler
from tests.support.waiting import sleep, until


def _soon(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def _book():
    fired: list[list] = []
    sched = make_scheduler(reactor)
    book = DueBook(sched, lambda entries: fired.append(sorted(entries)))
    sched.start()
    return sched, book, fired


@pytest_twisted.ensureDeferred
async def test_entries_due_together_share_one_job_and_fire_once():
    """A thousand entries due at one instant are one APScheduler job, delivered in one call."""
    sched, book, fired = _book()
    try:
        at = _soon(0.3)
        for n in range(1000):
            book.set(("place", n), at)
        assert len(sched.get_jobs()) == 1 and len(book) == 1000
        await until(lambda: fired, timeout=5)
        await sleep(0.2)
        assert len(fired) == 1 and len(fired[0]) == 1000
        assert len(book) == 0 and sched.get_jobs() == []
    finally:
        sched.shutdown(wait=False)


@pytest_twisted.ensureDeferred
async def test_moved_and_discarded_entries_fire_where_they_now_are():
    """Moving an entry takes it out of its old time (whose job goes when empty); a discarded
    entry never fires; setting the same time twice changes nothing."""
    sched, book, fired = _book()
    try:
        first, later = _soon(0.2), _soon(0.5)
        book.set(("place", 1), first)
        book.set(("place", 2), first)
        book.set(("place", 1), later)
        book.set(("place", 2), first)
        book.set(("remind_agent", 3), first)
        book.discard(("remind_agent", 3))
        assert book.when(("place", 1)) is not None and len(sched.get_jobs()) == 2
        await until(lambda: len(fired) == 2, timeout=5)
        assert fired == [[("place", 2)], [("place", 1)]]
    finally:
        sched.shutdown(wait=False)


@pytest_twisted.ensureDeferred
async def test_a_time_already_past_fires_at_once():
    """The misfire policy: an entry set to a past time (the scheduler was down) runs now,
    however late, and only once."""
    assert JOB_DEFAULTS["misfire_grace_time"] is None and JOB_DEFAULTS["coalesce"] is True
    sched, book, fired = _book()
    try:
        book.set(("place", 7), dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
        await until(lambda: fired, timeout=5)
        await sleep(0.2)
        assert fired == [[("place", 7)]]
    finally:
        sched.shutdown(wait=False)


def test_clear_drops_every_job():
    """Clearing the book (a node losing the lead) leaves APScheduler with nothing."""
    sched, book, fired = _book()
    try:
        for n in range(5):
            book.set(("survey", n), _soon(60 + n))
        book.clear()
        assert len(book) == 0 and sched.get_jobs() == []
    finally:
        sched.shutdown(wait=False)


def test_holds_compares_to_the_slot_and_apply_within_stops_on_budget():
    """A rescan finds an entry already set when its time is the one it was set with, to the
    10 ms slot (so an unchanged table changes nothing); a large change set, with None for
    entries found unchanged, is applied in parts when the time budget runs out, and
    completely in the end."""
    sched, book, fired = _book()
    try:
        at = _soon(60).replace(microsecond=123_456)
        book.set(("place", 1), at)
        assert book.when(("place", 1)) != at  # rounded up to its slot...
        assert book.holds(("place", 1), at)  # ...yet the same time
        assert not book.holds(("place", 1), at + dt.timedelta(milliseconds=20))
        assert not book.holds(("place", 2), at)
        changes = iter([(("place", n), at + dt.timedelta(seconds=n)) for n in range(2, 2002)]
                       + [None] * 100 + [(("place", 1), None)])
        parts = 1
        while not book.apply_within(changes, 0.0):
            parts += 1
        assert parts > 1
        assert len(book) == 2000 and ("place", 1) not in book
    finally:
        sched.shutdown(wait=False)
