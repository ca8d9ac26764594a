"""Seeded databases whose right report answers are known by construction.

The SLA seed: 240 callbacks due in the week 2026-11-02 – 2026-11-08 (Asia/Shanghai), cycling
through six kinds (met by the scheduler's flag, met by time, late, not reached, pending,
cancelled) in blocks of six, so every kind has 40; late ones are late by 5, 30, 120, 600 or 2000
minutes in turn (8 in each lateness bucket); the department is the block number mod 3. Plus
boundary rows: one due exactly at the start (in), one a second before (out), one exactly at the
end (out), one reached exactly at its deadline (met), one with a status the report has never
heard of (pending).
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from db.models import (
    Agent,
    AgentSession,
    Call,
    Callback,
    Citizen,
    Department,
    Grid,
    Incident,
    SurveyResult,
    Ticket,
    TicketEvent,
)
from hotline.reports.periods import period

TZ = "Asia/Shanghai"
WEEK = period("2026-11-02", "2026-11-08", TZ)
DEPARTMENTS = [("D1", "供水公司", 24), ("D2", "供电公司", 48), ("D3", '住建 <b>&"局', 72)]
AGENTS = ["1001", "1002", "1003", None]
CATEGORIES = ["供水", "供电", "噪声", "=cmd()", "物业"]
CHANNELS = ["hotline", "web"]
GRIDS = ["G001", "G001-01", "G002"]
LATE_MINUTES = [5, 30, 120, 600, 2000]
KINDS = ["met_flag", "met_time", "late", "not_reached", "pending", "cancelled"]

_numbers = itertools.count(1)


def _organisation(session: Session) -> dict[str, dict]:
    depts = {code: Department(code=code, name=name, response_time_limit_hours=limit)
             for code, name, limit in DEPARTMENTS}
    agents = {code: Agent(code=code, name=f"Agent {code}") for code in AGENTS if code}
    g1 = Grid(code="G001", name="第1网格", level=1)
    g2 = Grid(code="G002", name="第2网格", level=1)
    g11 = Grid(code="G001-01", name="第1网格1号子网格", level=2, parent=g1)
    citizens = [Citizen(phone=f"1380013{i:04d}") for i in range(10)]
    session.add_all([*depts.values(), *agents.values(), g1, g2, g11, *citizens])
    session.flush()
    return {"dept": depts, "agent": agents, "grid": {"G001": g1, "G002": g2, "G001-01": g11},
            "citizens": citizens}


def _ticket(session: Session, org: dict, *, dept: str | None, category: str | None,
            channel: str, grid: str | None, created: dt.datetime, citizen: int = 0,
            kind: str = "complaint", status: str = "dispatched") -> Ticket:
    n = next(_numbers)
    t = Ticket(number=f"RX-T{n:07d}", kind=kind, channel=channel, status=status,
               category=category, grid=org["grid"][grid] if grid else None,
               description="seeded", citizen=org["citizens"][citizen],
               department=org["dept"][dept] if dept else None,
               created_at=created, updated_at=created)
    session.add(t)
    return t


def _callback(session: Session, org: dict, ticket: Ticket, *, agent: str | None,
              due: dt.datetime, kind: str, late_minutes: int = 0, citizen: int = 0) -> Callback:
    cb = Callback(ticket=ticket, citizen=org["citizens"][citizen], due_at=due,
                  owner_agent=org["agent"][agent] if agent else None, attempts=1,
                  created_at=due - dt.timedelta(days=1))
    grace = dt.timedelta(minutes=10)
    if kind == "met_flag":
        cb.status, cb.sla_met, cb.sla_deadline_at = "done", True, due + grace
        cb.reached_at = due + dt.timedelta(minutes=5)
    elif kind == "met_time":
        cb.status, cb.reached_at = "done", due - dt.timedelta(minutes=30)
    elif kind == "met_exact":
        cb.status, cb.reached_at = "done", due
    elif kind == "late":
        cb.status, cb.sla_met, cb.sla_deadline_at = "done", False, due + grace
        cb.reached_at = due + grace + dt.timedelta(minutes=late_minutes)
    elif kind == "not_reached":
        cb.status, cb.sla_met, cb.attempts = "failed", False, 3
    elif kind == "pending":
        cb.status, cb.attempts = "pending", 0
    elif kind == "in_progress":
        cb.status = "in_progress"
    elif kind == "cancelled":
        cb.status = "cancelled"
    elif kind == "unknown_status":
        cb.status = "waiting_quiet"
    else:
        raise AssertionError(kind)
    session.add(cb)
    return cb


def seed_sla(session: Session) -> None:
    """The SLA seed described in the module docstring; commits."""
    org = _organisation(session)
    start, end = WEEK.start, WEEK.end
    for i in range(240):
        block = i // 6
        kind = KINDS[i % 6]
        if kind == "pending" and block % 2:
            kind = "in_progress"
        dept = DEPARTMENTS[block % 3][0]
        t = _ticket(session, org, dept=dept, category=CATEGORIES[i % 5], channel=CHANNELS[i % 2],
                    grid=GRIDS[(i // 2) % 3], created=start - dt.timedelta(days=2),
                    citizen=i % 10)
        _callback(session, org, t, agent=AGENTS[i % 4],
                  due=start + dt.timedelta(minutes=37 * i + 13), kind=kind,
                  late_minutes=LATE_MINUTES[block % 5], citizen=i % 10)
    edge = [("D1", start, "met_flag"), ("D1", start - dt.timedelta(seconds=1), "met_flag"),
            ("D2", end, "late"), ("D2", start + dt.timedelta(days=1), "met_exact"),
            ("D3", start + dt.timedelta(days=2), "unknown_status")]
    for dept, due, kind in edge:
        t = _ticket(session, org, dept=dept, category="供水", channel="hotline", grid="G001",
                    created=start - dt.timedelta(days=2))
        _callback(session, org, t, agent="1001", due=due, kind=kind, late_minutes=5)
    session.commit()


#: What the SLA seed must give for WEEK, with no filter.
SLA_TOTALS = {"met": 82, "late": 40, "not_reached": 40, "pending": 41, "cancelled": 40}
#: By department: 14 blocks of six for D1, 13 for D2 and D3, plus the boundary rows inside.
SLA_BY_DEPARTMENT = {
    "D1": {"met": 29, "late": 14, "not_reached": 14, "pending": 14, "cancelled": 14},
    "D2": {"met": 27, "late": 13, "not_reached": 13, "pending": 13, "cancelled": 13},
    "D3": {"met": 26, "late": 13, "not_reached": 13, "pending": 14, "cancelled": 13},
}
SLA_LATENESS = [8, 8, 8, 8, 8]


# -- rates ----------------------------------------------------------------------------------------

#: Hours from the latest dispatch to the department's first answer; None: no answer yet.
RESPONSE_DELAYS = [1, 30, None, 80]
STATUSES = ["closed", "replied", "handling", "reopened", "followed_up"]
SCORES = [5, 4, 3, 1, None]


def seed_rates(session: Session) -> None:
    """60 tickets dispatched in WEEK to D1-D3 in turn, each answered after one of
    RESPONSE_DELAYS, ending in one of STATUSES, and surveyed with one of SCORES (None: the
    citizen did not answer). Plus: a ticket re-dispatched (only the latest dispatch counts), a
    ticket dispatched the week before (not counted), an answer before the dispatch (no
    response)."""
    org = _organisation(session)
    start = WEEK.start
    for j in range(60):
        dept = DEPARTMENTS[j % 3][0]
        at = start + dt.timedelta(hours=j)
        t = _ticket(session, org, dept=dept, category="供水", channel="hotline", grid="G001",
                    created=at - dt.timedelta(hours=1), status=STATUSES[j % 5])
        t.events.append(TicketEvent(at=at, actor="agent", action="dispatch",
                                    from_status="received", to_status="dispatched"))
        delay = RESPONSE_DELAYS[j % 4]
        if delay is not None:
            t.events.append(TicketEvent(at=at + dt.timedelta(hours=delay), actor=dept,
                                        action="start_handling"))
        score = SCORES[j % 5]
        session.add(SurveyResult(ticket=t, score=score,
                                 outcome="rated" if score else "no_answer",
                                 at=at + dt.timedelta(days=3)))
    # Re-dispatched: first on day 1 (answered after 100 h, too late), again on day 3 and
    # answered after 2 h: the latest dispatch counts, so it responded in time.
    t = _ticket(session, org, dept="D1", category="供水", channel="hotline", grid="G001",
                created=start, status="replied")
    for offset in (1, 3):
        t.events.append(TicketEvent(at=start + dt.timedelta(days=offset), actor="agent",
                                    action="dispatch"))
    t.events.append(TicketEvent(at=start + dt.timedelta(days=3, hours=2), actor="D1",
                                action="reply"))
    # Dispatched the week before: not in the period.
    t = _ticket(session, org, dept="D2", category="供电", channel="web", grid="G002",
                created=start - dt.timedelta(days=8), status="closed")
    t.events.append(TicketEvent(at=start - dt.timedelta(days=7), actor="agent",
                                action="dispatch"))
    # An answer recorded before the dispatch is no response to it.
    t = _ticket(session, org, dept="D3", category="噪声", channel="web", grid="G002",
                created=start, status="dispatched")
    t.events.append(TicketEvent(at=start + dt.timedelta(hours=1), actor="D3",
                                action="start_handling"))
    t.events.append(TicketEvent(at=start + dt.timedelta(hours=2), actor="agent",
                                action="dispatch"))
    session.commit()


def expected_rates() -> dict[str, dict[str, int]]:
    """The counts the rates seed gives per department, computed from the construction."""
    limits = {code: limit for code, _, limit in DEPARTMENTS}
    out = {code: {"dispatched": 0, "responded": 0, "resolved": 0, "surveyed": 0,
                  "satisfied": 0} for code, _, _ in DEPARTMENTS}
    for j in range(60):
        dept = DEPARTMENTS[j % 3][0]
        c = out[dept]
        c["dispatched"] += 1
        delay = RESPONSE_DELAYS[j % 4]
        c["responded"] += delay is not None and delay <= limits[dept]
        c["resolved"] += STATUSES[j % 5] in ("closed", "replied", "followed_up")
        score = SCORES[j % 5]
        c["surveyed"] += score is not None
        c["satisfied"] += score is not None and score >= 4
    out["D1"]["dispatched"] += 1
    out["D1"]["responded"] += 1
    out["D1"]["resolved"] += 1
    out["D3"]["dispatched"] += 1
    return out


# -- daily ----------------------------------------------------------------------------------------

DAY = "2026-11-03"


def seed_daily(session: Session) -> dict:
    """One day's activity: 12 tickets (7 hotline, 5 web; G001 ×4 of which 2 in G001-01, G002
    ×6, no grid ×2), one citizen with 3 of them, one incident confirmed that day, one ticket
    reopened, two promises missed that day (one late, one not reached), one kept, one from the
    day before; two agents logged in 09:00-11:00 site time, inbound calls at 09:xx and 10:xx.
    Returns what the report must say."""
    org = _organisation(session)
    p = period(DAY, DAY, TZ)
    s = p.start  # 00:00 site time
    specs = [  # (hour, channel, category, grid, citizen)
        (9, "hotline", "供水", "G001", 1), (9, "hotline", "供水", "G001-01", 1),
        (9, "hotline", "噪声", "G002", 1), (10, "hotline", "供水", "G002", 2),
        (10, "hotline", "物业", "G002", 3), (10, "hotline", "<script>x</script>", "G001-01", 4),
        (14, "hotline", "供水", None, 5), (14, "web", "噪声", "G002", 6),
        (15, "web", "噪声", "G002", 7), (15, "web", "物业", "G002", 8),
        (20, "web", "供水", "G001", 9), (23, "web", "供电", None, 0),
    ]
    tickets = []
    for hour, channel, category, grid, citizen in specs:
        tickets.append(_ticket(session, org, dept="D1", category=category, channel=channel,
                               grid=grid, created=s + dt.timedelta(hours=hour, minutes=30),
                               citizen=citizen))
    # Out of the day: just before and exactly at its end.
    _ticket(session, org, dept="D1", category="供水", channel="web", grid="G001",
            created=s - dt.timedelta(seconds=1))
    _ticket(session, org, dept="D1", category="供水", channel="web", grid="G001",
            created=p.end)
    incident = Incident(title="停水 <b>片区</b>", kind="complaint", category="供水",
                        grid_id=org["grid"]["G001"].id, confirmed_by="sup",
                        confirmed_at=s + dt.timedelta(hours=11))
    session.add(incident)
    tickets[0].incident = incident
    tickets[1].incident = incident
    tickets[3].events.append(TicketEvent(at=s + dt.timedelta(hours=16), actor="citizen",
                                         action="reopen", text="还是没水"))
    _callback(session, org, tickets[0], agent="1001", due=s + dt.timedelta(hours=12),
              kind="late", late_minutes=30)
    _callback(session, org, tickets[1], agent="1001", due=s + dt.timedelta(hours=13),
              kind="not_reached")
    _callback(session, org, tickets[2], agent="1002", due=s + dt.timedelta(hours=14),
              kind="met_flag")
    _callback(session, org, tickets[3], agent="1002", due=s - dt.timedelta(hours=3),
              kind="not_reached")
    for code in ("1001", "1002"):
        session.add(AgentSession(agent=org["agent"][code], login_at=s + dt.timedelta(hours=9),
                                 logout_at=s + dt.timedelta(hours=11)))
    for k, minute in enumerate((5, 15, 25, 65, 70)):
        session.add(Call(uniqueid=f"1700.{k}", linkedid=f"1700.{k}", direction="inbound",
                         started_at=s + dt.timedelta(hours=9, minutes=minute),
                         status="completed"))
    session.commit()
    return {
        "tickets": 12, "inbound_calls": 5,
        "by_channel": {"hotline": 7, "web": 5},
        "by_category": {"供水": 5, "噪声": 3, "物业": 2, "<script>x</script>": 1, "供电": 1},
        "grid_counts": {"G001": 4, "G002": 6},
        "overdue": [tickets[0].number, tickets[1].number],
        "reopened": tickets[3].number,
        "repeat": [t.number for t in tickets[:3]],
        "incident_tickets": 2,
        # Two agents 09:00-11:00 at 6 calls per agent-hour: capacity 12 in hours 9 and 10.
        "capacity": {9: 12.0, 10: 12.0},
        "calls_by_hour": {9: 3, 10: 2},
        "tickets_by_hour": {9: 3, 10: 3, 14: 2, 15: 2, 20: 1, 23: 1},
    }
