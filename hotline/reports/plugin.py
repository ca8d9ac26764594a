# -*- test-case-name: tests.reports.test_job -*-
"""Wire the reports: the daily public-sentiment report on its clock, the report pages and the
live wall board in the console, and a wall board feed for whoever wants one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotline.reports import http
from hotline.reports.job import DailyReportJob
from hotline.reports.wallboard import WallboardFeed

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load", "daily_report", "wallboard_feed"]


def daily_report(deps: Any) -> DailyReportJob:
    """The daily report job on C{deps} (``config``, ``db``, ``reactor``, ``scheduler``), put at
    C{deps.daily_report}; not started.

    On PostgreSQL the job runs only on the scheduler's leader (any node when the scheduler is
    switched off); on SQLite always. The controller starts it after its scheduler and stops it
    first.
    """
    scheduler = deps.scheduler
    sqlite = deps.db.url.startswith("sqlite")

    def leading() -> bool:
        # A node whose scheduler is switched off never leads: it then writes the report itself
        # (the day's row is replaced, so two such nodes at worst write it twice).
        if sqlite or scheduler is None or not scheduler.settings["enabled"]:
            return True
        return bool(scheduler.leading)

    settings = dict(deps.config["reports"])
    if "scheduler" in deps.config:  # a whole configuration (a test may hand in a part)
        settings["sla_grace_s"] = float(deps.config["scheduler"]["sla_grace_s"])
    job = DailyReportJob(database=deps.db, settings=settings,
                         timezone=deps.config["site"]["timezone"], clock=deps.reactor,
                         leading=leading)
    deps.daily_report = job
    return job


def wallboard_feed(deps: Dependencies) -> WallboardFeed:
    """A wall board feed over C{deps}'s live calls and database (the caller starts and stops
    it: ``feed.start()`` after the controller's start, ``feed.stop()`` before its stop)."""
    settings = deps.config["reports"]
    return WallboardFeed(calls=deps.calls, database=deps.db,
                         timezone=deps.config["site"]["timezone"],
                         service_level_s=float(settings["service_level_s"]),
                         interval_s=float(settings["wallboard_interval_s"]),
                         clock=deps.reactor, bus=deps.bus)


def load(deps: Dependencies) -> None:
    """Build the daily report job when a PBX-linked controller runs; mount the report pages."""
    if deps.daily_report is None and deps.ami is not None:
        daily_report(deps)
    if deps.console is not None:
        deps.console.report_streams = http.register(deps.console.router, deps.console)
