# -*- test-case-name: tests.reports.test_wallboard -*-
"""The live wall board: the tracker's live figures (calls waiting, longest wait, agents by
state) beside today's figures from the call rows (service level, abandoned) and the callbacks
falling due in the next hour, pushed to listeners every few seconds when they change.

The console subscribes its board streams with ``WallboardFeed.add_listener`` (a subscription
to L{WallboardChanged} on the controller's bus) and renders the tiles with
``hotline.reports.render.wallboard_html``; the payload pushed equals ``await feed.figures()``.

A call counts as answered from the moment an agent takes it (L{CallAnswered}), not only once
its row is written at hangup: the feed keeps the calls answered whose final row is not yet
committed (until L{CallFinalised}) and adds them to the rows' figures, leaving those calls out
of the query so that none is counted twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from db.models import Callback, CallbackStatus
from db.session import Database
from hotline.bus import EventBus, Subscription
from hotline.calls.events import CallAnswered, CallArrived, CallEnded, CallFinalised
from hotline.calls.model import CallState
from hotline.calls.service import CallService
from hotline.reports.service_level import ServiceFigures, figures_between

__all__ = ["WallboardFeed", "WallboardChanged", "database_figures", "SERVICE_LEVEL_DEFINITION"]

#: Printed under the service-level tile.
SERVICE_LEVEL_DEFINITION = ("今日呼入来电中在规定秒数内被坐席接听的 ÷（接听 + 放弃）；仍在排队的"
                            "来电暂不计入（GB/T 33358-2016：15 秒内接听）")

#: Callback statuses that need nothing more.
_FINISHED = (CallbackStatus.DONE, CallbackStatus.FAILED, CallbackStatus.CANCELLED)

Listener = Callable[[dict[str, Any]], object]


def _day_start(now: dt.datetime, timezone: str) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(zone)
    return dt.datetime.combine(local.date(), dt.time(0), zone).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class WallboardChanged:
    """A wall board feed (C{feed}) computed a board different from its last: C{board}."""

    feed: WallboardFeed
    board: dict[str, Any]


def _with_live(figures: ServiceFigures, live: Mapping[str, tuple[float, float]],
               since: dt.datetime, threshold_s: float) -> ServiceFigures:
    """``figures`` plus the calls of ``live`` (uniqueid -> (start, wait)) begun at ``since`` or
    later, each counted as answered."""
    for started, wait in live.values():
        if started >= since.timestamp():
            figures.add(answered=True, wait_s=wait, threshold_s=threshold_s)
    return figures


def database_figures(session: Session, now: dt.datetime, *, timezone: str,
                     service_level_s: float,
                     answered_live: Mapping[str, tuple[float, float]] | None = None
                     ) -> dict[str, Any]:
    """Today's (site-local day) and the last 24 hours' service figures
    (L{hotline.reports.service_level}) and the callbacks due soon.

    @param answered_live: calls answered whose rows may not be written yet, uniqueid ->
        (start as a timestamp, queue wait): their rows are left out and they count as answered
        in the spans they began in (the feed follows them from the calls' events).

    @return: C{answered_today}, C{answered_in_time_today}, C{abandoned_today},
        C{service_level} (None before the first settled call), C{abandon_rate_today},
        C{average_wait_today_s}, C{longest_wait_today_s}, C{connection_rate_24h},
        C{settled_24h}, C{callbacks_due_next_hour}, C{callbacks_overdue} (not finished,
        due time passed).
    """
    start = _day_start(now, timezone)
    live = answered_live or {}
    just_after = now + dt.timedelta(microseconds=1)
    day_ago = now - dt.timedelta(hours=24)
    today = _with_live(figures_between(session, start, just_after, threshold_s=service_level_s,
                                       leave_out=live.keys()),
                       live, start, service_level_s)
    day = _with_live(figures_between(session, day_ago, just_after, threshold_s=service_level_s,
                                     leave_out=live.keys()),
                     live, day_ago, service_level_s)
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
    """Computes the wall board every ``interval_s`` and publishes it on the bus when it changed.

    Built from the controller's call service, bus and database; ``clock`` is the reactor (or a
    ``task.Clock`` in tests). It follows the calls' domain events from the moment it is built.
    """

    _log = Logger(namespace="hotline.reports.wallboard")

    def __init__(self, *, calls: CallService | None, database: Database, timezone: str,
                 service_level_s: float = 15.0, interval_s: float = 5.0,
                 clock: IReactorTime, bus: EventBus | None = None) -> None:
        """
        @param calls: the live view; None shows the database figures only (a node without AMI).
        @param database: where the call rows and callbacks are read (on its thread pool).
        @param bus: where the calls' events are read and the boards published; default the
            live view's bus (else one of its own).
        """
        self._calls = calls
        self._db = database
        self._timezone = timezone
        self._threshold = service_level_s
        self._interval = interval_s
        self._clock = clock
        if bus is None:
            bus = calls.bus if calls is not None else EventBus()
        self.bus = bus
        self._loop: task.LoopingCall | None = None
        self._last: dict[str, Any] | None = None
        #: Inbound calls seen arriving and not yet answered or ended: uniqueid -> start.
        self._arrived: dict[str, float] = {}
        #: Calls answered whose final row may not be committed yet: uniqueid -> (start, wait).
        self._answered: dict[str, tuple[float, float]] = {}
        self._subs: list[Subscription] = bus.subscribe_all({
            CallArrived: self._call_arrived,
            CallAnswered: self._call_answered,
            CallEnded: self._call_ended,
            CallFinalised: self._call_finalised,
        })
        if calls is not None:
            for call in calls.live_calls():
                answered = call["state"] == CallState.TALKING or (
                    call["state"] == CallState.ENDED and call["agent"] is not None
                    and not call["abandoned"])
                if answered:
                    self._answered[call["uniqueid"]] = (call["started"],
                                                        float(call["hold_time"] or 0))

    # -- the calls' events -------------------------------------------------------------------

    def _call_arrived(self, e: CallArrived) -> None:
        self._arrived[e.uniqueid] = e.at

    def _call_answered(self, e: CallAnswered) -> None:
        started = self._arrived.pop(e.uniqueid, e.at)
        self._answered[e.uniqueid] = (started, float(e.hold_time or 0))

    def _call_ended(self, e: CallEnded) -> None:
        self._arrived.pop(e.uniqueid, None)

    def _call_finalised(self, e: CallFinalised) -> None:
        self._answered.pop(e.uniqueid, None)

    def close(self) -> None:
        """Stop computing and stop following the calls' events (the feed is done with)."""
        self.stop()
        for sub in self._subs:
            sub.cancel()
        self._subs = []

    # -- the board ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Push every changed board to ``listener`` from now on; returns the remover."""
        def deliver(e: WallboardChanged) -> object:
            return listener(e.board) if e.feed is self else None

        return self.bus.subscribe(WallboardChanged, deliver).cancel

    @property
    def last(self) -> dict[str, Any] | None:
        """The latest board computed (a new console shows it at once)."""
        return self._last

    def _answered_live(self, since: dt.datetime) -> dict[str, tuple[float, float]]:
        """The calls answered whose rows may not be in the database yet (those begun before
        ``since`` are forgotten: no figure counts them any more)."""
        cutoff = since.timestamp()
        for uid in [uid for uid, (started, _) in self._answered.items() if started < cutoff]:
            del self._answered[uid]
        return dict(self._answered)

    async def figures(self) -> dict[str, Any]:
        """The board now: live figures from the tracker, today's and the last 24 hours' from
        the database and from the calls answered whose rows are still being written."""
        now = dt.datetime.fromtimestamp(self._clock.seconds(), dt.UTC)
        live: dict[str, Any] = self._calls.wallboard() if self._calls is not None else {
            "calls_waiting": 0, "calls_talking": 0, "longest_wait_s": 0.0, "agents_free": 0,
            "agents_ringing": 0, "agents_talking": 0, "agents_paused": 0, "agents_wrapup": 0,
            "agents_unavailable": 0}
        answered = self._answered_live(min(_day_start(now, self._timezone),
                                           now - dt.timedelta(hours=24)))
        stored = await self._db.run(database_figures, now, timezone=self._timezone,
                                    service_level_s=self._threshold, answered_live=answered)
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
        self.bus.publish(WallboardChanged(self, board))  # a failing listener harms no other

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
