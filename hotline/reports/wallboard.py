# -*- test-case-name: tests.reports.test_wallboard -*-
"""The live wall board: the tracker's live figures (calls waiting, longest wait, agents by
state) beside today's figures from the call rows (service level, abandoned) and the callbacks
falling due in the next hour, pushed to listeners every few seconds when they change.

The console subscribes a websocket to ``WallboardFeed.add_listener`` and renders the tiles with
``hotline.reports.render.wallboard_html``; the payload pushed equals ``await feed.figures()``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from db.models import Callback
from db.session import Database
from hotline.calls.service import CallService
from hotline.reports.service_level import figures_between

__all__ = ["WallboardFeed", "database_figures", "SERVICE_LEVEL_DEFINITION"]

#: Printed under the service-level tile.
SERVICE_LEVEL_DEFINITION = ("inbound calls today answered within the threshold ÷ (answered + "
                            "abandoned); calls still waiting are not counted yet "
                            "(GB/T 33358-2016: within 15 s)")

#: Callback statuses that need nothing more.
_FINISHED = ("done", "failed", "cancelled")

Listener = Callable[[dict[str, Any]], object]


def _day_start(now: dt.datetime, timezone: str) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(zone)
    return dt.datetime.combine(local.date(), dt.time(0), zone).astimezone(dt.UTC)


def database_figures(session: Session, now: dt.datetime, *, timezone: str,
                     service_level_s: float) -> dict[str, Any]:
    """Today's (site-local day) and the last 24 hours' service figures
    (L{hotline.reports.service_level}) and the callbacks due soon.

    @return: C{answered_today}, C{answered_in_time_today}, C{abandoned_today},
        C{service_level} (None before the first settled call), C{abandon_rate_today},
        C{average_wait_today_s}, C{longest_wait_today_s}, C{connection_rate_24h},
        C{settled_24h}, C{callbacks_due_next_hour}, C{callbacks_overdue} (not finished,
        due time passed).
    """
    start = _day_start(now, timezone)
    just_after = now + dt.timedelta(microseconds=1)
    today = figures_between(session, start, just_after, threshold_s=service_level_s)
    day = figures_between(session, now - dt.timedelta(hours=24), just_after,
                          threshold_s=service_level_s)
    due_at = func.coalesce(Callback.next_attempt_at, Callback.due_at)
    open_callback = Callback.status.not_in(_FINISHED)
    due_soon = session.scalar(select(func.count()).select_from(Callback).where(
        open_callback, due_at >= now, due_at < now + dt.timedelta(hours=1))) or 0
    overdue = session.scalar(select(func.count()).select_from(Callback).where(
        open_callback, Callback.due_at < now)) or 0
    return {"answered_today": today.answered, "answered_in_time_today": today.answered_in_time,
            "abandoned_today": today.abandoned,
            "service_level": today.service_level,
            "service_level_s": service_level_s,
            "abandon_rate_today": today.abandon_rate,
            "average_wait_today_s": _rounded(today.average_wait_s),
            "longest_wait_today_s": _rounded(today.longest_wait_s),
            "connection_rate_24h": day.connection_rate, "settled_24h": day.settled,
            "callbacks_due_next_hour": due_soon, "callbacks_overdue": overdue}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class WallboardFeed:
    """Computes the wall board every ``interval_s`` and pushes it to listeners when it changed.

    Built from the controller's call service and database; ``clock`` is the reactor (or a
    ``task.Clock`` in tests).
    """

    _log = Logger(namespace="hotline.reports.wallboard")

    def __init__(self, *, calls: CallService | None, database: Database, timezone: str,
                 service_level_s: float = 15.0, interval_s: float = 5.0,
                 clock: IReactorTime) -> None:
        """
        @param calls: the live view; None shows the database figures only (a node without AMI).
        @param database: where the call rows and callbacks are read (on its thread pool).
        """
        self._calls = calls
        self._db = database
        self._timezone = timezone
        self._threshold = service_level_s
        self._interval = interval_s
        self._clock = clock
        self._listeners: list[Listener] = []
        self._loop: task.LoopingCall | None = None
        self._last: dict[str, Any] | None = None

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Push every changed board to ``listener`` from now on; returns the remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    @property
    def last(self) -> dict[str, Any] | None:
        """The latest board computed (a new console shows it at once)."""
        return self._last

    async def figures(self) -> dict[str, Any]:
        """The board now: live figures from the tracker, today's from the database."""
        now = dt.datetime.fromtimestamp(self._clock.seconds(), dt.UTC)
        live: dict[str, Any] = self._calls.wallboard() if self._calls is not None else {
            "calls_waiting": 0, "calls_talking": 0, "longest_wait_s": 0.0, "agents_free": 0,
            "agents_ringing": 0, "agents_talking": 0, "agents_paused": 0, "agents_wrapup": 0,
            "agents_unavailable": 0}
        stored = await self._db.run(database_figures, now, timezone=self._timezone,
                                    service_level_s=self._threshold)
        board = {k: v for k, v in live.items() if k not in ("answered", "abandoned", "since")}
        board.update(stored)
        board["now"] = now.isoformat()
        return board

    async def _tick(self) -> None:
        board = await self.figures()
        comparable = {k: v for k, v in board.items() if k != "now"}
        if self._last is not None and comparable == {k: v for k, v in self._last.items()
                                                     if k != "now"}:
            self._last = board
            return
        self._last = board
        for listener in list(self._listeners):
            try:
                listener(board)
            except Exception:  # noqa: BLE001 - one failing console must not stop the others
                self._log.failure("wallboard listener failed")

    def _run_tick(self) -> defer.Deferred[None]:
        d = defer.ensureDeferred(self._tick())
        d.addErrback(lambda f: self._log.failure("wallboard update failed", f))
        return d

    def start(self) -> None:
        """Compute now and then every ``interval_s`` (idempotent)."""
        if self._loop is not None:
            return
        self._loop = task.LoopingCall(self._run_tick)
        self._loop.clock = self._clock
        self._loop.start(self._interval, now=True).addErrback(
            lambda f: self._log.failure("wallboard loop stopped", f))

    def stop(self) -> None:
        """Stop computing; listeners stay registered for a later start."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
