# -*- test-case-name: tests.reports.test_service_level -*-
"""The service figures of the citizens' line (服务水平): answered within the threshold (15 s by
default, as GB/T 33358-2016 asks), the connection rate (接通率), the abandon rate (放弃率) and the
average and longest wait, from the inbound call rows.

One set of definitions serves the live wall board (today, and the last 24 hours) and the
reports by hour and by day, so the two never disagree. A call counts once it has *settled* in
the queue: answered by an agent, or abandoned while waiting. A call that hung up during the
greeting never reached the queue and is not offered to anyone; a call still waiting is not
settled yet.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import Call, CallStatus
from hotline.reports.periods import Period

__all__ = ["ServiceFigures", "ServiceReport", "DEFINITIONS", "GROUPINGS", "figures_between",
           "service_report", "settled_rows"]

#: What each figure means, as the reports print it under the table.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("服务水平", "在规定秒数（排队时长）内被坐席接听的来电 ÷ 在队列中有结果的来电（接听 + "
     "放弃）；GB/T 33358-2016 以 15 秒内接听计"),
    ("接通率", "坐席接听的来电 ÷ 在队列中有结果的来电；实时大屏按最近 24 小时计算（目标为 95% "
     "及以上）"),
    ("放弃率", "市民在等待中挂断的来电 ÷ 在队列中有结果的来电"),
    ("平均等待 / 最长等待", "在队列中的秒数：平均值按接听的来电计，最长值按接听和放弃的来电计"),
)

#: How a report may split its period.
GROUPINGS = ("hour", "day")


@dataclass
class ServiceFigures:
    """The settled calls of one span (a period, an hour, a day) and what they give."""

    label: str = ""
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    wait_total_s: float = 0.0
    longest_wait_s: float | None = None

    @property
    def settled(self) -> int:
        return self.answered + self.abandoned

    @property
    def service_level(self) -> float | None:
        return self.answered_in_time / self.settled if self.settled else None

    @property
    def connection_rate(self) -> float | None:
        return self.answered / self.settled if self.settled else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.settled if self.settled else None

    @property
    def average_wait_s(self) -> float | None:
        return self.wait_total_s / self.answered if self.answered else None

    def add(self, *, answered: bool, wait_s: float | None, threshold_s: float) -> None:
        """Count one settled call (answered, else abandoned) that waited ``wait_s``."""
        wait = max(float(wait_s or 0.0), 0.0)
        if answered:
            self.answered += 1
            self.wait_total_s += wait
            if wait <= threshold_s:
                self.answered_in_time += 1
        else:
            self.abandoned += 1
        if self.longest_wait_s is None or wait > self.longest_wait_s:
            self.longest_wait_s = wait

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "settled": self.settled, "answered": self.answered,
                "answered_in_time": self.answered_in_time, "abandoned": self.abandoned,
                "service_level": self.service_level, "connection_rate": self.connection_rate,
                "abandon_rate": self.abandon_rate,
                "average_wait_s": _round(self.average_wait_s),
                "longest_wait_s": _round(self.longest_wait_s)}


@dataclass
class ServiceReport:
    """Service figures over a period, split by hour or day (site-local), with the total."""

    period: Period
    by: str
    threshold_s: float
    rows: list[ServiceFigures] = field(default_factory=list)
    total: ServiceFigures = field(default_factory=lambda: ServiceFigures("total"))

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                "timezone": self.period.timezone, "by": self.by,
                "threshold_s": self.threshold_s, "rows": [r.as_dict() for r in self.rows],
                "total": self.total.as_dict(),
                "definitions": [{"name": n, "text": t} for n, t in DEFINITIONS]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def settled_rows(session: Session, start: dt.datetime, end: dt.datetime, *,
                 leave_out: Collection[str] = ()
                 ) -> Iterable[tuple[dt.datetime, bool, float | None]]:
    """(started_at, answered, queue wait) of every inbound call begun in [start, end) that
    settled in the queue: answered by an agent or abandoned while waiting. ``leave_out``:
    uniqueids not to read (the wall board counts them from the calls' events)."""
    query = (select(Call.started_at, Call.answered_at, Call.queue_wait_s)
             .where(Call.direction == "inbound", Call.started_at >= start,
                    Call.started_at < end,
                    or_(Call.answered_at.is_not(None), Call.status == CallStatus.ABANDONED))
             .execution_options(yield_per=2000))
    if leave_out:
        query = query.where(Call.uniqueid.not_in(list(leave_out)))
    for started, answered_at, wait in session.execute(query):
        yield started, answered_at is not None, wait


def figures_between(session: Session, start: dt.datetime, end: dt.datetime, *,
                    threshold_s: float, label: str = "",
                    leave_out: Collection[str] = ()) -> ServiceFigures:
    """The service figures of the inbound calls begun in [start, end) (but ``leave_out``)."""
    out = ServiceFigures(label)
    for _, answered, wait in settled_rows(session, start, end, leave_out=leave_out):
        out.add(answered=answered, wait_s=wait, threshold_s=threshold_s)
    return out


def service_report(session: Session, period: Period, *, by: str = "hour",
                   threshold_s: float = 15.0) -> ServiceReport:
    """The figures of ``period`` by site-local ``hour`` (each hour of the period that had a
    call) or ``day`` (every day of the period, empty ones included)."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    zone = zoneinfo.ZoneInfo(period.timezone)
    report = ServiceReport(period=period, by=by, threshold_s=threshold_s)
    buckets: dict[str, ServiceFigures] = {}
    if by == "day":
        for n in range(period.days):
            day = (period.first + dt.timedelta(days=n)).isoformat()
            buckets[day] = ServiceFigures(day)
    for started, answered, wait in settled_rows(session, period.start, period.end):
        local = _aware(started).astimezone(zone)
        key = local.strftime("%Y-%m-%d") if by == "day" else local.strftime("%Y-%m-%d %H:00")
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = ServiceFigures(key)
        bucket.add(answered=answered, wait_s=wait, threshold_s=threshold_s)
        report.total.add(answered=answered, wait_s=wait, threshold_s=threshold_s)
    report.rows = [buckets[k] for k in sorted(buckets)]
    return report


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
