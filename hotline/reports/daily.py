# -*- test-case-name: tests.reports.test_daily -*-
"""The daily public-sentiment report (民情报告): what the district's citizens raised on one day,
where, and which promises were missed. Written by a scheduled job at a configured time for the
site-local day before, kept in the database (figures and HTML) and readable again at any time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from db.models import (
    AgentSession,
    Call,
    Callback,
    Department,
    Grid,
    Incident,
    ReportRecord,
    Ticket,
    TicketEvent,
    utcnow,
)
from db.session import begin
from hotline.grid.service import day_logs
from hotline.reports.charts import HourLoad
from hotline.reports.periods import Period, day_period
from hotline.reports.sla import DEFAULT_SLA_GRACE_S, deadline_expression, outcome_expression
from hotline.tickets.schemas import CHANNELS

__all__ = ["DailyReport", "build_daily", "store_daily", "load_daily", "report_day",
           "next_run", "run_daily_report", "pressure_by_hour", "tickets_by_grid", "REPEAT_CONTACTS", "KIND"]

KIND = "daily"
#: A citizen with this many new tickets in one day is a notable repeat contact.
REPEAT_CONTACTS = 3
#: Longest lists kept in the report (the counts are always complete).
_LIST_LIMIT = 20


@dataclass(frozen=True)
class DailyReport:
    """The figures of one day's report; ``as_dict`` is what the database keeps."""

    day: str
    timezone: str
    tickets: int
    inbound_calls: int
    by_channel: list[tuple[str, str, int]]
    by_category: list[tuple[str, int]]
    new_incidents: list[dict[str, Any]]
    hot_spots: list[tuple[str, str, int]]
    grid_counts: dict[str, int]
    overdue_total: int
    overdue: list[dict[str, Any]]
    notable: list[dict[str, Any]]
    pressure: list[HourLoad]
    generated_at: str = field(default_factory=lambda: utcnow().isoformat())
    #: The grid workers' daily logs (民情日志) of the day: worker, grid, grid_name, text.
    grid_logs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_channel"] = [list(x) for x in self.by_channel]
        data["by_category"] = [list(x) for x in self.by_category]
        data["hot_spots"] = [list(x) for x in self.hot_spots]
        return data


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def pressure_by_hour(session: Session, period: Period, *, calls_per_agent_hour: float,
                     now: dt.datetime | None = None) -> list[HourLoad]:
    """Tickets opened, inbound calls and agent capacity in each site-local hour of a one-day
    ``period``. Capacity: minutes agents were logged in during the hour ÷ 60 × calls per
    agent-hour (a session still open counts until ``now``)."""
    now = now or utcnow()
    start, end = period.start, period.end
    hours = int((end - start).total_seconds() // 3600)  # 23 or 25 on a DST change day

    def hour_of(moment: dt.datetime) -> int:
        return int((_aware(moment) - start).total_seconds() // 3600)

    tickets = Counter(hour_of(t) for t in session.scalars(
        select(Ticket.created_at).where(Ticket.created_at >= start, Ticket.created_at < end)))
    calls = Counter(hour_of(t) for t in session.scalars(
        select(Call.started_at).where(Call.started_at >= start, Call.started_at < end,
                                      Call.direction == "inbound")))
    minutes = [0.0] * hours
    for login, logout in session.execute(
            select(AgentSession.login_at, AgentSession.logout_at)
            .where(AgentSession.login_at < end)
            .where((AgentSession.logout_at.is_(None)) | (AgentSession.logout_at > start))):
        a = max(_aware(login), start)
        b = min(_aware(logout) if logout is not None else now, end)
        for h in range(hours):
            h0 = start + dt.timedelta(hours=h)
            overlap = (min(b, h0 + dt.timedelta(hours=1)) - max(a, h0)).total_seconds()
            if overlap > 0:
                minutes[h] += overlap / 60.0
    local_hours = [(start + dt.timedelta(hours=h)).astimezone(period.zone).hour
                   for h in range(hours)]
    return [HourLoad(local_hours[h], tickets.get(h, 0), calls.get(h, 0),
                     round(minutes[h] / 60.0 * calls_per_agent_hour, 1)) for h in range(hours)]


def tickets_by_grid(session: Session, period: Period) -> list[tuple[str, str, int]]:
    """Tickets opened in ``period`` per level-1 grid (a level-2 grid counts in its parent):
    (code, name, count); tickets without a grid are left out."""
    parent = aliased(Grid)
    top_code = func.coalesce(parent.code, Grid.code)
    top_name = func.coalesce(parent.name, Grid.name)
    return [(code, name, n) for code, name, n in session.execute(
        select(top_code, top_name, func.count()).select_from(Ticket)
        .join(Grid, Grid.id == Ticket.grid_id).outerjoin(parent, Grid.parent_id == parent.id)
        .where(Ticket.created_at >= period.start, Ticket.created_at < period.end)
        .group_by(top_code, top_name))]


def build_daily(session: Session, day: str | dt.date, *, timezone: str,
                calls_per_agent_hour: float = 6.0, now: dt.datetime | None = None,
                sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> DailyReport:
    """The report of site-local ``day`` (raises BadPeriod for a malformed day); a promise is
    missed by L{deadline_expression} with the site's ``sla_grace_s``."""
    now = now or utcnow()
    p = day_period(day, timezone)
    in_day = (Ticket.created_at >= p.start, Ticket.created_at < p.end)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*in_day)) or 0
    calls = session.scalar(select(func.count()).select_from(Call).where(
        Call.started_at >= p.start, Call.started_at < p.end, Call.direction == "inbound")) or 0
    by_channel = [(code, CHANNELS[code].label if code in CHANNELS else code, n)
                  for code, n in session.execute(
                      select(Ticket.channel, func.count()).where(*in_day)
                      .group_by(Ticket.channel))]
    by_channel.sort(key=lambda x: (-x[2], x[0]))
    by_category = [(cat or "(none)", n) for cat, n in session.execute(
        select(Ticket.category, func.count()).where(*in_day).group_by(Ticket.category))]
    by_category.sort(key=lambda x: (-x[1], x[0]))

    grid_rows = tickets_by_grid(session, p)
    grid_counts = {code: n for code, _, n in grid_rows}
    hot_spots = sorted(((c, name, n) for c, name, n in grid_rows), key=lambda x: (-x[2], x[0]))

    incident_tickets = (select(Ticket.incident_id, func.count().label("n"))
                        .where(Ticket.incident_id.is_not(None))
                        .group_by(Ticket.incident_id).subquery())
    new_incidents = [
        {"id": i.id, "title": i.title, "kind": i.kind, "category": i.category,
         "grid": grid_code, "tickets": n or 0, "status": i.status}
        for i, grid_code, n in session.execute(
            select(Incident, Grid.code, incident_tickets.c.n)
            .outerjoin(Grid, Grid.id == Incident.grid_id)
            .outerjoin(incident_tickets, incident_tickets.c.incident_id == Incident.id)
            .where(Incident.confirmed_at >= p.start, Incident.confirmed_at < p.end)
            .order_by(Incident.id))]

    # Promises whose deadline fell in the day and were not kept (or are still open past it).
    outcome = outcome_expression(sla_grace_s)
    deadline = deadline_expression(sla_grace_s)
    overdue_rows = session.execute(
        select(Ticket.number, Department.code, Callback.due_at, deadline, outcome)
        .select_from(Callback).join(Ticket, Ticket.id == Callback.ticket_id)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .where(Callback.due_at >= p.start - dt.timedelta(days=7), Callback.due_at < p.end,
               deadline >= p.start, deadline < p.end)
        .order_by(Callback.due_at, Callback.id)).all()
    overdue = []
    for number, dept, due_at, dl, out in overdue_rows:
        dl = _aware(dl) if isinstance(dl, dt.datetime) else _parse(dl)
        if out in ("late", "not_reached") or (out == "pending" and dl < now):
            overdue.append({"ticket": number, "department": dept,
                            "due": p.local(_aware(due_at)).strftime("%H:%M"),
                            "outcome": "overdue" if out == "pending" else out})

    notable: list[dict[str, Any]] = []
    for number, kind, category, text in session.execute(
            select(Ticket.number, Ticket.kind, Ticket.category, TicketEvent.text)
            .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(TicketEvent.action == "reopen", TicketEvent.at >= p.start,
                   TicketEvent.at < p.end)
            .order_by(TicketEvent.at, TicketEvent.id)):
        notable.append({"ticket": number, "kind": kind, "category": category,
                        "why": f"不满意重办：{text or ''}".strip("：")})
    repeat = (select(Ticket.citizen_id).where(*in_day, Ticket.citizen_id.is_not(None))
              .group_by(Ticket.citizen_id)
              .having(func.count() >= REPEAT_CONTACTS).subquery())
    for number, kind, category, citizen_id in session.execute(
            select(Ticket.number, Ticket.kind, Ticket.category, Ticket.citizen_id)
            .where(*in_day, Ticket.citizen_id.in_(select(repeat.c.citizen_id)))
            .order_by(Ticket.citizen_id, Ticket.created_at, Ticket.id)):
        notable.append({"ticket": number, "kind": kind, "category": category,
                        "why": f"市民 #{citizen_id} 当日来电或来信 {REPEAT_CONTACTS} 次及以上"})

    return DailyReport(
        day=p.first.isoformat(), timezone=timezone, tickets=total, inbound_calls=calls,
        by_channel=by_channel, by_category=by_category, new_incidents=new_incidents,
        hot_spots=hot_spots[:10], grid_counts=grid_counts, overdue_total=len(overdue),
        overdue=overdue[:_LIST_LIMIT], notable=notable[:_LIST_LIMIT],
        pressure=pressure_by_hour(session, p, calls_per_agent_hour=calls_per_agent_hour,
                                  now=now),
        generated_at=now.isoformat(), grid_logs=day_logs(session, p.first.isoformat()))


def _parse(value: Any) -> dt.datetime:
    """A coalesce() of two timestamps comes back as text on SQLite."""
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def store_daily(session: Session, report: DailyReport, html: str) -> ReportRecord:
    """Keep the report (figures and page); a report of the same day is replaced."""
    record = session.scalar(select(ReportRecord).where(ReportRecord.kind == KIND,
                                                       ReportRecord.day == report.day))
    if record is None:
        record = ReportRecord(kind=KIND, day=report.day)
        session.add(record)
    record.generated_at = dt.datetime.fromisoformat(report.generated_at)
    record.data = report.as_dict()
    record.html = html
    session.flush()
    return record


def load_daily(session: Session, day: str | dt.date) -> ReportRecord | None:
    """The stored report of ``day``, or None when none was written."""
    key = day.isoformat() if isinstance(day, dt.date) else str(day)
    return session.scalar(select(ReportRecord).where(ReportRecord.kind == KIND,
                                                     ReportRecord.day == key))


def report_day(now: dt.datetime, timezone: str) -> dt.date:
    """The day a run at ``now`` reports on: the site-local day before."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def next_run(now: dt.datetime, *, at: str, timezone: str) -> dt.datetime:
    """The next time (UTC) the daily job is due: ``at`` (HH:MM, site-local) today or tomorrow."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    hour, minute = (int(x) for x in at.split(":"))
    local = now.astimezone(zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1),
                                        dt.time(hour, minute), zone)
    return candidate.astimezone(dt.UTC)


def run_daily_report(factory: sessionmaker[Session], settings: dict[str, Any], *,
                     timezone: str, day: str | dt.date | None = None,
                     clock: Callable[[], dt.datetime] = utcnow) -> str:
    """The scheduler's job: build, render and store the report of ``day`` (default: the
    site-local day before now) in one unit of work of its own, then, when ``[reports]``
    names an SMTP server and recipients, mail it to them as a PDF. ``settings`` is the
    configuration's ``[reports]`` section, with ``sla_grace_s`` from ``[scheduler]``. Returns
    the day written (YYYY-MM-DD)."""
    from hotline.reports.charts import load_geometry
    from hotline.reports.mail import daily_message, mail_configured, send_message
    from hotline.reports.pdf import html_to_pdf
    from hotline.reports.render import daily_html

    now = clock()
    target = day if day is not None else report_day(now, timezone)
    geometry = load_geometry(settings.get("grid_geometry") or None)
    with begin(factory) as session:
        report = build_daily(session, target, timezone=timezone,
                             calls_per_agent_hour=settings.get("calls_per_agent_hour", 6.0),
                             now=now,
                             sla_grace_s=settings.get("sla_grace_s", DEFAULT_SLA_GRACE_S))
        html = daily_html(report, geometry)
        store_daily(session, report, html)
    if mail_configured(settings):
        # After the report is stored: a mail server that is down loses no report.
        send_message(settings, daily_message(
            day=report.day, pdf=html_to_pdf(html), sender=settings["mail_from"],
            recipients=list(settings["daily_recipients"]),
            site_name=settings.get("site_name", "365 热线"), tickets=report.tickets))
    return report.day
