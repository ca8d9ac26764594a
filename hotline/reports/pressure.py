# -*- test-case-name: tests.reports.test_pressure -*-
"""The pressure curve's critical thresholds (临界监控): over one site-local day, step by step
(``[reports] pressure_step_min``, 15 minutes by default), the most calls waiting in the queue,
the service level at ``service_level_s`` (15 s) and the fewest agents free, each against its
configured threshold, with the moments each threshold was crossed and when it recovered.

Built from the rows the line already keeps, with the definitions the wall board and the service
report use (L{hotline.reports.service_level}): a step's service level is
L{ServiceFigures.service_level} of the calls that began in it. Calls waiting and agents free are
rebuilt from the same rows as step functions:

- a settled inbound call waited in the queue for ``queue_wait_s`` seconds up to the moment it
  left it (answered, or the citizen hung up);
- an agent is free while logged in, not paused, not in after-call work (the state changes the
  agent service writes) and not on a call (answered to ended).

So a crossing of calls waiting or agents free is timed to the second; a crossing of the service
level is timed to the step it was measured in. Agents free counts only while at least one
agent is logged in: a line nobody staffs at night is not an alarm every night at midnight.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import AgentStateChange, Call, CallStatus, utcnow
from hotline.reports.periods import Period
from hotline.reports.service_level import ServiceFigures, settled_rows

__all__ = ["Measure", "Thresholds", "Crossing", "PressureStep", "PressureReport",
           "pressure_report", "STEPS_MIN", "MEASURE_LABELS", "DEFINITIONS"]

#: Step lengths a curve may use (minutes dividing an hour).
STEPS_MIN = (5, 10, 15, 20, 30, 60)

#: Agent state changes after which the agent may take a call, and after which not.
_AVAILABLE = frozenset({"login", "unpause", "wrapup_end"})
_UNAVAILABLE = frozenset({"logout", "pause", "wrapup"})


class Measure(enum.StrEnum):
    """The three figures the curve watches."""

    CALLS_WAITING = "calls_waiting"
    SERVICE_LEVEL = "service_level"
    AGENTS_FREE = "agents_free"


MEASURE_LABELS: dict[Measure, str] = {
    Measure.CALLS_WAITING: "排队等待来电",
    Measure.SERVICE_LEVEL: "服务水平",
    Measure.AGENTS_FREE: "空闲坐席",
}

#: What each figure and its threshold mean, as the page prints them.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("排队等待来电", "每个时段内同时在队列中等待的来电数的最大值；来电从离开队列（坐席接听或市民"
     "挂断）的时刻向前推其排队时长计为等待。超过阈值（大于）即为越限，时刻精确到秒。"),
    ("服务水平", "每个时段内开始的来电中，在规定秒数内被坐席接听的比例（接听及时数 ÷ 接听与放弃"
     "来电之和），口径与实时大屏、服务水平报表一致。低于阈值即为越限，时刻记为该时段开始。"),
    ("空闲坐席", "每个时段内已签入、未示忙、不在话后整理、也未在通话中的坐席数的最小值；仅在至少"
     "一名坐席签入时计算。低于阈值即为越限，时刻精确到秒。"),
)


@dataclass(frozen=True)
class Thresholds:
    """The critical lines: more than ``calls_waiting`` calls waiting, a service level below
    ``service_level`` (a share, 0-1), fewer than ``agents_free`` agents free."""

    calls_waiting: int = 5
    service_level: float = 0.8
    agents_free: int = 1

    @classmethod
    def from_settings(cls, reports: Mapping[str, Any]) -> Thresholds:
        """From the ``[reports]`` section (checked by the configuration's ranges)."""
        return cls(int(reports.get("pressure_calls_waiting", cls.calls_waiting)),
                   float(reports.get("pressure_service_level", cls.service_level)),
                   int(reports.get("pressure_agents_free", cls.agents_free)))

    def breached(self, measure: Measure, value: float | None) -> bool:
        """Whether ``value`` of ``measure`` is beyond its line (None, not measured: no)."""
        if value is None:
            return False
        if measure is Measure.CALLS_WAITING:
            return value > self.calls_waiting
        if measure is Measure.SERVICE_LEVEL:
            return value < self.service_level
        return value < self.agents_free

    def value(self, measure: Measure) -> float:
        return {Measure.CALLS_WAITING: self.calls_waiting,
                Measure.SERVICE_LEVEL: self.service_level,
                Measure.AGENTS_FREE: self.agents_free}[measure]

    def as_dict(self) -> dict[str, Any]:
        return {"calls_waiting": self.calls_waiting, "service_level": self.service_level,
                "agents_free": self.agents_free}


@dataclass(frozen=True)
class Crossing:
    """A threshold crossed at ``at`` (UTC) by ``value``; ``recovered_at`` when the figure came
    back inside its line (None: still beyond it at the end of the day)."""

    measure: Measure
    at: dt.datetime
    value: float
    threshold: float
    recovered_at: dt.datetime | None = None

    def as_dict(self, period: Period) -> dict[str, Any]:
        return {"measure": str(self.measure), "label": MEASURE_LABELS[self.measure],
                "at": self.at.isoformat(), "local": period.local(self.at).strftime("%H:%M:%S"),
                "value": self.value, "threshold": self.threshold,
                "recovered_at": None if self.recovered_at is None
                else self.recovered_at.isoformat(),
                "recovered_local": None if self.recovered_at is None
                else period.local(self.recovered_at).strftime("%H:%M:%S")}


@dataclass
class PressureStep:
    """One step of the day: its start (UTC), the most calls waiting, the service figures of the
    calls that began in it, and the fewest agents free (None while nobody was logged in)."""

    start: dt.datetime
    label: str
    calls_waiting: int = 0
    service: ServiceFigures = field(default_factory=ServiceFigures)
    agents_free: int | None = None

    def value(self, measure: Measure) -> float | None:
        if measure is Measure.CALLS_WAITING:
            return self.calls_waiting
        if measure is Measure.SERVICE_LEVEL:
            return self.service.service_level
        return self.agents_free

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "label": self.label,
                "calls_waiting": self.calls_waiting,
                "service_level": self.service.service_level, "settled": self.service.settled,
                "answered_in_time": self.service.answered_in_time,
                "agents_free": self.agents_free}


@dataclass
class PressureReport:
    """One day's curve: its steps, the thresholds and every crossing in time order."""

    period: Period
    step_min: int
    service_level_s: float
    thresholds: Thresholds
    steps: list[PressureStep]
    crossings: list[Crossing]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.period.first.isoformat(), "timezone": self.period.timezone,
                "step_min": self.step_min, "service_level_s": self.service_level_s,
                "thresholds": self.thresholds.as_dict(),
                "steps": [s.as_dict() for s in self.steps],
                "crossings": [c.as_dict(self.period) for c in self.crossings],
                "definitions": [{"name": n, "text": t} for n, t in DEFINITIONS]}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# -- the step functions -------------------------------------------------------------------------

def _waiting_changes(session: Session, start: dt.datetime, end: dt.datetime
                     ) -> list[tuple[dt.datetime, int]]:
    """(moment, +1 / -1) as settled inbound calls joined and left the queue within the day."""
    left = func.coalesce(Call.answered_at, Call.ended_at)
    rows = session.execute(
        select(Call.answered_at, Call.ended_at, Call.queue_wait_s)
        .where(Call.direction == "inbound", Call.queue_wait_s.is_not(None),
               or_(Call.answered_at.is_not(None), Call.status == CallStatus.ABANDONED),
               left.is_not(None), Call.started_at < end,
               Call.started_at >= start - dt.timedelta(hours=6)))
    out: list[tuple[dt.datetime, int]] = []
    for answered, ended, wait in rows:
        leave = _aware(answered if answered is not None else ended)
        join = leave - dt.timedelta(seconds=max(float(wait), 0.0))
        if leave <= start or join >= end or leave <= join:
            continue
        out += [(max(join, start), +1), (min(leave, end), -1)]
    return out


def _level_series(changes: Iterable[tuple[dt.datetime, int]], start: dt.datetime
                  ) -> list[tuple[dt.datetime, int]]:
    """The running total of ``changes`` as (moment, level) from ``start``, one point per moment
    (changes at the same moment are applied together, leaves before joins)."""
    series = [(start, 0)]
    level = 0
    for at, delta in sorted(changes, key=lambda c: (c[0], c[1])):
        level += delta
        if at == series[-1][0]:
            series[-1] = (at, level)
        else:
            series.append((at, level))
    return series


def _agent_series(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime
                  ) -> list[tuple[dt.datetime, int | None]]:
    """(moment, agents free) from ``start``; None while no agent is logged in."""
    before = (select(func.max(AgentStateChange.id)).where(AgentStateChange.at < start)
              .group_by(AgentStateChange.agent_id))
    events: list[tuple[dt.datetime, int, str]] = [
        (start, agent, state) for agent, state in session.execute(
            select(AgentStateChange.agent_id, AgentStateChange.state)
            .where(AgentStateChange.id.in_(before)))]
    events += [(_aware(at), agent, state) for at, agent, state in session.execute(
        select(AgentStateChange.at, AgentStateChange.agent_id, AgentStateChange.state)
        .where(AgentStateChange.at >= start, AgentStateChange.at < end)
        .order_by(AgentStateChange.at, AgentStateChange.id))]
    for agent, answered, ended in session.execute(
            select(Call.agent_id, Call.answered_at, Call.ended_at)
            .where(Call.agent_id.is_not(None), Call.answered_at.is_not(None),
                   Call.answered_at < end,
                   or_(Call.ended_at.is_(None), Call.ended_at > start))):
        events.append((max(_aware(answered), start), agent, "call"))
        finish = _aware(ended) if ended is not None else now
        if finish < end:
            events.append((finish, agent, "call_end"))
    order = {"call_end": 0, "logout": 1, "pause": 1, "wrapup": 1, "login": 2, "unpause": 2,
             "wrapup_end": 2, "call": 3}
    events.sort(key=lambda e: (e[0], order.get(e[2], 1)))
    logged: set[int] = set()
    available: set[int] = set()
    on_call: dict[int, int] = {}
    series: list[tuple[dt.datetime, int | None]] = []
    i = 0
    while i < len(events):
        at = events[i][0]
        while i < len(events) and events[i][0] == at:
            _, agent, state = events[i]
            if state == "call":
                on_call[agent] = on_call.get(agent, 0) + 1
            elif state == "call_end":
                on_call[agent] = max(on_call.get(agent, 0) - 1, 0)
            else:
                (logged.discard if state == "logout" else logged.add)(agent)
                if state in _AVAILABLE:
                    available.add(agent)
                elif state in _UNAVAILABLE:
                    available.discard(agent)
            i += 1
        free = sum(1 for a in available if a in logged and not on_call.get(a))
        series.append((at, free if logged else None))
    if not series or series[0][0] > start:
        series.insert(0, (start, None))
    return series


def _over_steps(series: list[tuple[dt.datetime, int | None]], bounds: list[dt.datetime],
                pick: Any) -> list[int | None]:
    """Each step's ``pick`` (max or min) of the levels a step series takes within it."""
    out: list[int | None] = []
    k = 0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        while k + 1 < len(series) and series[k + 1][0] <= lo:
            k += 1
        values = [series[k][1]]
        j = k + 1
        while j < len(series) and series[j][0] < hi:
            values.append(series[j][1])
            j += 1
        known = [v for v in values if v is not None]
        out.append(pick(known) if known else None)
    return out


def _series_crossings(measure: Measure, series: list[tuple[dt.datetime, int | None]],
                      thresholds: Thresholds) -> list[Crossing]:
    """Each moment the series went beyond its line, with the moment it came back; the value
    kept is the worst the episode reached."""
    out: list[Crossing] = []
    episode: tuple[dt.datetime, float] | None = None
    worse = max if measure is Measure.CALLS_WAITING else min
    for at, value in series:
        beyond = thresholds.breached(measure, value)
        if beyond and episode is None:
            episode = (at, float(value))  # type: ignore[arg-type]
        elif beyond and episode is not None:
            episode = (episode[0], worse(episode[1], float(value)))  # type: ignore[arg-type]
        elif not beyond and episode is not None:
            out.append(Crossing(measure, episode[0], episode[1], thresholds.value(measure), at))
            episode = None
    if episode is not None:
        out.append(Crossing(measure, episode[0], episode[1], thresholds.value(measure)))
    return out


def _service_crossings(steps: list[PressureStep], thresholds: Thresholds) -> list[Crossing]:
    """A step whose calls' service level fell below the line starts an episode at the step's
    start; the first later step back at or above it (or with no settled call) ends it."""
    out: list[Crossing] = []
    episode: tuple[dt.datetime, float] | None = None
    for step in steps:
        level = step.service.service_level
        beyond = thresholds.breached(Measure.SERVICE_LEVEL, level)
        if beyond and episode is None:
            episode = (step.start, float(level))  # type: ignore[arg-type]
        elif beyond and episode is not None:
            episode = (episode[0], min(episode[1], float(level)))  # type: ignore[arg-type]
        elif not beyond and episode is not None:
            out.append(Crossing(Measure.SERVICE_LEVEL, episode[0], episode[1],
                                thresholds.service_level, step.start))
            episode = None
    if episode is not None:
        out.append(Crossing(Measure.SERVICE_LEVEL, episode[0], episode[1],
                            thresholds.service_level, None))
    return out


def pressure_report(session: Session, period: Period, *, thresholds: Thresholds,
                    step_min: int = 15, service_level_s: float = 15.0,
                    now: dt.datetime | None = None) -> PressureReport:
    """The curve of the site-local day ``period`` (its first day) in steps of ``step_min``
    minutes, with every threshold crossing; raises ValueError for a step not in L{STEPS_MIN}.
    ``now``: until when an agent still on a call is busy (default: the clock)."""
    if step_min not in STEPS_MIN:
        raise ValueError(f"step_min must be one of {', '.join(map(str, STEPS_MIN))}")
    now = now or utcnow()
    start = period.start
    end = min(start + dt.timedelta(days=1), period.end)
    bounds = []
    moment = start
    while moment < end:
        bounds.append(moment)
        moment += dt.timedelta(minutes=step_min)
    bounds.append(end)
    steps = [PressureStep(lo, period.local(lo).strftime("%H:%M"), service=ServiceFigures(
        period.local(lo).strftime("%H:%M"))) for lo in bounds[:-1]]
    width = dt.timedelta(minutes=step_min)
    for started, answered, wait in settled_rows(session, start, end):
        index = min(int((_aware(started) - start) / width), len(steps) - 1)
        steps[index].service.add(answered=answered, wait_s=wait, threshold_s=service_level_s)
    waiting = _level_series(_waiting_changes(session, start, end), start)
    free = _agent_series(session, start, end, now)
    for step, peak, low in zip(steps, _over_steps(waiting, bounds, max),
                               _over_steps(free, bounds, min), strict=True):
        step.calls_waiting = peak or 0
        step.agents_free = low
    crossings = (_series_crossings(Measure.CALLS_WAITING, waiting, thresholds)
                 + _service_crossings(steps, thresholds)
                 + _series_crossings(Measure.AGENTS_FREE, free, thresholds))
    crossings.sort(key=lambda c: (c.at, list(Measure).index(c.measure)))
    return PressureReport(period, step_min, service_level_s, thresholds, steps, crossings)
