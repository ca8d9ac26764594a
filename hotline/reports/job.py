# -*- test-case-name: tests.reports.test_job -*-
"""The daily public-sentiment report (民情报告) on a clock: every day at ``[reports]
daily_time`` (site-local) the report of the day before is built and stored.

One ``callLater`` at a time, re-armed from ``daily.next_run`` after each run, so a changed
clock (daylight saving, a suspended machine) only shifts one run. The work runs on the
database's thread pool. With several controllers on one PostgreSQL database only the node that
leads the callback scheduler writes it; on SQLite there is one node. A controller that starts
after today's time and finds yesterday's report missing writes it at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from db.session import Database, run_in_pool
from hotline.reports.daily import load_daily, next_run, report_day, run_daily_report

__all__ = ["DailyReportJob"]

_log = Logger(namespace="hotline.reports.job")


class DailyReportJob:
    """Writes the daily report once a day while started.

    @ivar runs: the days written by this job since it was built (newest last).
    """

    def __init__(self, *, database: Database, settings: dict[str, Any], timezone: str,
                 clock: IReactorTime, leading: Callable[[], bool] = lambda: True) -> None:
        """
        @param settings: the configuration's ``[reports]`` section (``daily_time`` HH:MM).
        @param clock: the reactor (or a ``task.Clock``); its ``seconds()`` is the time.
        @param leading: whether this node should write the report now (the scheduler's
            leadership on PostgreSQL); asked at each run, not at start.
        """
        self._db = database
        self._settings = dict(settings)
        self._timezone = timezone
        self._clock = clock
        self._leading = leading
        self._call: IDelayedCall | None = None
        self._running: defer.Deferred[Any] | None = None
        self.runs: list[str] = []
        next_run(dt.datetime.now(dt.UTC), at=self.at, timezone=timezone)  # refuse a bad time now

    @property
    def at(self) -> str:
        return str(self._settings["daily_time"])

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.seconds(), dt.UTC)

    @property
    def next_at(self) -> dt.datetime | None:
        """When the next run is due (UTC), or None when stopped."""
        if self._call is None or not self._call.active():
            return None
        return dt.datetime.fromtimestamp(self._call.getTime(), dt.UTC)

    async def start(self) -> None:
        """Arm the timer; first write yesterday's report if its time has passed unwritten."""
        if self._call is not None:
            return
        now = self._now()
        #: The latest run that should have happened (at most a day ago).
        last_due = next_run(now - dt.timedelta(days=1), at=self.at, timezone=self._timezone)
        if self._leading():
            day = report_day(last_due, self._timezone)
            if await self._db.run(load_daily, day) is None:
                _log.info("daily report of {day} missing after {at}: writing it now",
                          day=day.isoformat(), at=self.at)
                await self.run_now(day)
        self._arm()

    async def stop(self) -> None:
        """Cancel the timer and wait for a run in progress; a second call does nothing."""
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None
        if self._running is not None:
            await self._running

    def _arm(self) -> None:
        due = next_run(self._now(), at=self.at, timezone=self._timezone)
        delay = max(0.0, due.timestamp() - self._clock.seconds())
        self._call = self._clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        if not self._leading():
            _log.info("not the scheduler leader: another node writes the daily report")
            self._arm()
            return
        d = defer.ensureDeferred(self.run_now())
        d.addErrback(lambda f: _log.failure("daily report run failed", f))
        d.addBoth(lambda _: self._arm() if self._call is not None else None)

    async def run_now(self, day: str | dt.date | None = None) -> str:
        """Write the report of ``day`` (default: the site-local day before now) on the
        database's thread pool; returns the day written."""
        d = run_in_pool(self._db.reactor, self._db.pool, run_daily_report,
                        self._db.unit_factory, self._settings, timezone=self._timezone,
                        day=day, clock=self._now)
        self._running = d
        try:
            written = await d
        finally:
            self._running = None
        self.runs.append(written)
        _log.info("daily report of {day} written", day=written)
        return written
