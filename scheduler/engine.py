# -*- test-case-name: tests.scheduler.test_engine -*-
"""APScheduler 3 on the reactor: a TwistedScheduler over an in-memory job store.

Why in memory: APScheduler's SQL job store reads, unpickles and deletes jobs on the reactor
thread while it processes them (300 jobs due together stalled the reactor for 260 ms). Here the
callback table is the source of truth and ``DueBook`` is a rebuildable index of what falls due
soon: one APScheduler job per distinct due time, carrying every entry due then, so a thousand
callbacks promised for 17:00:00 are one job, not a thousand (times are kept to 10 ms).

Misfire policy: ``misfire_grace_time=None`` and ``coalesce=True``. A job whose time passed while
the scheduler was stopped (or a rebuilt entry already overdue) runs once, at once, however late;
the attempt is then recorded late if it started more than ``late_tolerance_s`` after its due
time (``scheduler.policy``). Nothing due is ever skipped.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.twisted import TwistedScheduler
from apscheduler.triggers.date import DateTrigger
from twisted.logger import Logger

__all__ = ["ReactorExecutor", "make_scheduler", "DueBook", "JOB_DEFAULTS"]

_log = Logger(namespace="scheduler.engine")

#: Run a missed job once, at once, whatever its lateness (see the module docstring).
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class ReactorExecutor(BaseExecutor):
    """Runs a job inline on the reactor thread: our jobs only hand entries over (microseconds);
    the database work they start goes to the database's thread pool."""

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        try:
            events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
        except BaseException:
            _, exc, tb = sys.exc_info()
            self._run_job_error(job.id, exc, tb)
        else:
            self._run_job_success(job.id, events)


def make_scheduler(reactor: Any) -> TwistedScheduler:
    """A TwistedScheduler with the in-memory store, the inline executor and our misfire policy."""
    return TwistedScheduler(reactor=reactor, jobstores={"default": MemoryJobStore()},
                            executors={"default": ReactorExecutor()},
                            job_defaults=dict(JOB_DEFAULTS), timezone=dt.UTC)


#: Due times are rounded up to this many microseconds: callbacks due within the same 10 ms
#: share one APScheduler job (adding a job costs far more than adding an entry to a set).
SLOT_US = 10_000


def _slot(at: dt.datetime) -> int:
    """A due time as a slot: microseconds since the epoch, rounded up (never early)."""
    us = round(at.timestamp() * 1_000_000)
    return -(-us // SLOT_US) * SLOT_US


class DueBook:
    """What falls due when, in memory: entry → time, and one APScheduler job per time.

    ``on_due(entries)`` is called on the reactor thread with every entry of a time that came.
    Entries are opaque hashables (the service uses ``(kind, id)``). Setting an entry again
    moves it; setting it to a past time makes it due at once.
    """

    def __init__(self, scheduler: TwistedScheduler,
                 on_due: Callable[[list[Any]], None]) -> None:
        self.scheduler = scheduler
        self.on_due = on_due
        self._at: dict[Any, int] = {}
        self._slots: dict[int, set[Any]] = {}

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, entry: Any) -> bool:
        return entry in self._at

    def when(self, entry: Any) -> dt.datetime | None:
        slot = self._at.get(entry)
        return None if slot is None else dt.datetime.fromtimestamp(slot / 1e6, dt.UTC)

    def entries(self) -> list[Any]:
        return list(self._at)

    def holds(self, entry: Any, at: dt.datetime) -> bool:
        """Whether ``entry`` is already due at ``at`` (to the slot). Compare with this, not
        with ``when``: a slot is ``at`` rounded up, so ``when(entry) == at`` is almost never
        true and every rescan would set every entry again."""
        return self._at.get(entry) == _slot(at)

    def set(self, entry: Any, at: dt.datetime) -> None:
        """Make ``entry`` due at ``at`` (aware); a no-op when it already is."""
        slot = _slot(at)
        old = self._at.get(entry)
        if old == slot:
            return
        if old is not None:
            self._leave(entry, old)
        self._at[entry] = slot
        members = self._slots.get(slot)
        if members is None:
            self._slots[slot] = {entry}
            run_date = dt.datetime.fromtimestamp(slot / 1e6, dt.UTC)
            self.scheduler.add_job(self._fire, DateTrigger(run_date=run_date), args=(slot,),
                                   id=f"due-{slot}", replace_existing=True)
        else:
            members.add(entry)

    def discard(self, entry: Any) -> None:
        slot = self._at.pop(entry, None)
        if slot is not None:
            self._leave(entry, slot, popped=True)

    def apply(self, changes: Iterable[tuple[Any, dt.datetime | None]]) -> None:
        """Set or (with None) discard many entries."""
        for entry, at in changes:
            if at is None:
                self.discard(entry)
            else:
                self.set(entry, at)

    def apply_within(self, changes: Iterator[tuple[Any, dt.datetime | None] | None],
                     budget_s: float) -> bool:
        """Apply changes from ``changes`` until ``budget_s`` of time is spent; returns whether
        they are all applied, so a caller can yield to the reactor between. ``changes`` may
        be a generator that decides each change as it is drawn (against the book as it is
        then), yielding None for "nothing to change here": the deciding is sliced with the
        applying, however few changes there are."""
        deadline = time.perf_counter() + budget_s
        n = 0
        for change in changes:
            if change is not None:
                entry, at = change
                if at is None:
                    self.discard(entry)
                else:
                    self.set(entry, at)
            n += 1
            if not n % 8 and time.perf_counter() >= deadline:
                return False
        return True

    def clear(self) -> None:
        for slot in list(self._slots):
            self._drop_job(slot)
        self._at.clear()
        self._slots.clear()

    def _leave(self, entry: Any, slot: int, popped: bool = False) -> None:
        if not popped:
            self._at.pop(entry, None)
        members = self._slots.get(slot)
        if members is None:
            return
        members.discard(entry)
        if not members:
            del self._slots[slot]
            self._drop_job(slot)

    def _drop_job(self, slot: int) -> None:
        try:
            self.scheduler.remove_job(f"due-{slot}")
        except Exception:  # noqa: BLE001 - already ran or gone: nothing to drop
            pass

    def _fire(self, slot: int) -> None:
        members = self._slots.pop(slot, set())
        due = [e for e in members if self._at.get(e) == slot]
        for entry in due:
            del self._at[entry]
        if due:
            self.on_due(due)
