# -*- test-case-name: tests.indices.test_line_history -*-
"""Generated SAMPLE history of the line itself, to go with the sample tickets
(L{hotline.indices.history}): the inbound calls, the shifts of a handful of sample agents
(login, pause, after-call work, logout) and the timed replies (callbacks) with their attempts.
So the service figures, the pressure curve's thresholds and the callback SLA report have
something to show on a demo's first run.

The calls are not drawn independently of the agents: each day is played through a small
first-come-first-served queue over the agents' shifts, so a call waits exactly as long as it
took an agent to come free, an agent is never on two calls, and "agents free" on the pressure
curve agrees with the calls. Every hotline ticket of the sample history has the call it was
taken on; other calls are consultations answered on the phone (no ticket), and some citizens
hang up while waiting. On some days (and yesterday, with the planted 供水 spike) a burst of
calls at mid-morning drives the queue past the pressure thresholds.

Deterministic for a seed. Sample agents' codes are 99xx and their names say 示例; call ids
start with ``SX-``; callers are the sample citizens (reserved 1999xxxxxxx numbers).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.models import (
    Agent,
    AgentSession,
    AgentStateChange,
    Call,
    CallbackAttempt,
    CallbackStatus,
    CallStatus,
    Citizen,
    Ticket,
)
from db.models import Callback as CallbackRow
from hotline.indices.aggregate import day_bounds
from hotline.indices.history import SAMPLE_PREFIX, arrival, resync_sequence

__all__ = ["SAMPLE_AGENTS", "SHIFTS", "LineHistory", "generate_line_history"]

#: Each sample agent's logins of a day (site-local): a login's spans are separated by a pause
#: (a 20-minute break, staggered so that one agent of a shift is away at a time). Four agents
#: in the morning, four in the afternoon, two in the early morning and the evening.
SHIFTS: tuple[tuple[str, ...], ...] = (
    ("08:00-11:30 11:50-14:00",),
    ("08:00-11:50 12:10-14:00",),
    ("08:00-12:10 12:30-14:00",),
    ("08:00-12:30 12:50-14:00",),
    ("13:30-16:30 16:50-20:00",),
    ("13:30-16:50 17:10-20:00",),
    ("13:30-17:10 17:30-20:00",),
    ("13:30-17:30 17:50-20:00",),
    ("06:00-08:30", "19:30-22:30"),
    ("06:00-09:00", "19:00-22:30"),
)

#: The sample agents (code, name), one per shift.
SAMPLE_AGENTS = tuple((f"99{n:02d}", f"示例坐席 {n}") for n in range(1, len(SHIFTS) + 1))

_WRAPUP_S = 15.0  # the shipped ``queue.wrapup_s``
_SLA_GRACE_S = 300.0  # the shipped ``scheduler.sla_grace_s``
#: Every how many days a burst comes (and always on the last day).
_BURST_EVERY = 9
_BURST_CALLS = 28


@dataclass(frozen=True)
class LineHistory:
    calls: int
    abandoned: int
    agent_changes: int
    callbacks: int


@dataclass(order=True)
class _Arrival:
    joined: dt.datetime
    seq: int
    ticket_id: int | None = field(compare=False, default=None)
    citizen_id: int | None = field(compare=False, default=None)
    #: Seconds the caller waits before hanging up (None: waits until answered).
    patience: float | None = field(compare=False, default=None)


def _logins(day_start: dt.datetime, index: int) -> list[list[tuple[dt.datetime, dt.datetime]]]:
    """The agent's logins of the day, each a list of working spans as UTC moments."""
    def at(text: str) -> dt.datetime:
        hour, minute = text.split(":")
        return day_start + dt.timedelta(hours=int(hour), minutes=int(minute))
    return [[(at(span.split("-")[0]), at(span.split("-")[1])) for span in login.split()]
            for login in SHIFTS[index]]


def _agents(session: Session) -> list[int]:
    known = dict(session.execute(select(Agent.code, Agent.id)
                                 .where(Agent.code.in_([c for c, _ in SAMPLE_AGENTS]))).all())
    for code, name in SAMPLE_AGENTS:
        if code not in known:
            agent = Agent(code=code, name=name, state="offline")
            session.add(agent)
            session.flush()
            known[code] = agent.id
    return [known[c] for c, _ in SAMPLE_AGENTS]


class _Day:
    """One day played through the queue: the rows it gives."""

    def __init__(self, rng: random.Random, day: dt.date, day_start: dt.datetime,
                 agents: Sequence[int]) -> None:
        self.rng, self.day = rng, day
        self.agents = list(agents)
        self.logins = [_logins(day_start, i) for i in range(len(agents))]
        self.spans = [[span for login in logins for span in login] for logins in self.logins]
        self.free_at = [day_start] * len(agents)
        #: The last moment each agent's span was still busy (call + after-call work).
        self.span_busy: list[list[dt.datetime | None]] = [[None] * len(s) for s in self.spans]
        self.calls: list[dict] = []
        self.changes: list[dict] = []
        self.sessions: list[dict] = []
        self.answered_by: dict[int, int] = {}  # ticket id -> agent id

    def _start_for(self, a: int, joined: dt.datetime) -> tuple[dt.datetime, int] | None:
        ready = max(joined, self.free_at[a])
        for k, (lo, hi) in enumerate(self.spans[a]):
            if hi > ready:
                return max(ready, lo), k
        return None

    def play(self, arrivals: list[_Arrival], phones: dict[int, str]) -> None:
        for n, call in enumerate(sorted(arrivals)):
            options = [(found[0], self.free_at[a], a, found[1])
                       for a in range(len(self.agents))
                       if (found := self._start_for(a, call.joined)) is not None]
            start, _, a, k = min(options) if options else (None, None, -1, -1)
            wait = (start - call.joined).total_seconds() if start is not None else None
            greeting = dt.timedelta(seconds=self.rng.randint(8, 20))
            started = call.joined - greeting
            row = {"uniqueid": f"{SAMPLE_PREFIX}-{self.day:%Y%m%d}-{n:05d}",
                   "linkedid": f"{SAMPLE_PREFIX}-{self.day:%Y%m%d}-{n:05d}",
                   "direction": "inbound", "caller_number": phones.get(call.citizen_id or 0),
                   "citizen_id": call.citizen_id, "started_at": started,
                   "ticket_id": call.ticket_id, "hangup_cause": 16}
            if wait is None or (call.patience is not None and wait > call.patience):
                gave_up = call.patience if call.patience is not None else 300.0
                ended = call.joined + dt.timedelta(seconds=gave_up)
                row.update(answered_at=None, ended_at=ended, queue_wait_s=round(gave_up, 1),
                           talk_s=None, agent_id=None, hungup_by="citizen",
                           status=CallStatus.ABANDONED)
                self.calls.append(row)
                continue
            talk = min(max(self.rng.lognormvariate(5.3, 0.5), 40.0), 900.0)
            ended = start + dt.timedelta(seconds=talk)
            agent = self.agents[a]
            row.update(answered_at=start, ended_at=ended, queue_wait_s=round(wait, 1),
                       talk_s=round(talk, 1), agent_id=agent,
                       hungup_by=self.rng.choice(("citizen", "agent")),
                       status=CallStatus.COMPLETED)
            self.calls.append(row)
            done = ended + dt.timedelta(seconds=_WRAPUP_S)
            self.changes += [
                {"agent_id": agent, "at": ended, "state": "wrapup", "reason": None},
                {"agent_id": agent, "at": done, "state": "wrapup_end", "reason": None}]
            self.free_at[a] = done
            self.span_busy[a][k] = done
            if call.ticket_id is not None:
                self.answered_by[call.ticket_id] = agent

    def shifts(self) -> None:
        """Logins, pauses and logouts around the calls: a pause or a logout waits for the
        call and after-call work in hand (one second after, so the two never coincide)."""
        for a in range(len(self.agents)):
            self._shift(a)

    def _shift(self, a: int) -> None:
        agent = self.agents[a]
        k = 0
        for spans in self.logins[a]:
            login = spans[0][0]
            for j, (lo, hi) in enumerate(spans):
                self._change(agent, lo, "login" if j == 0 else "unpause")
                busy = self.span_busy[a][k]
                k += 1
                end = max(hi, busy + dt.timedelta(seconds=1)) if busy is not None else hi
                if j + 1 < len(spans):
                    self._change(agent, end, "pause", "示例数据：休息")
            self._change(agent, end, "logout")
            self.sessions.append({"agent_id": agent, "login_at": login, "logout_at": end})

    def _change(self, agent: int, at: dt.datetime, state: str, reason: str | None = None
                ) -> None:
        self.changes.append({"agent_id": agent, "at": at, "state": state, "reason": reason})


def _arrivals(rng: random.Random, day_start: dt.datetime, tickets: Sequence[tuple[int, dt.datetime,
              int | None]], pool: Sequence[int], burst: bool) -> list[_Arrival]:
    out: list[_Arrival] = []
    for ticket_id, created, citizen in tickets:
        # The agent files the ticket a few minutes into the call.
        out.append(_Arrival(created - dt.timedelta(seconds=rng.randint(90, 300)), 0,
                            ticket_id, citizen, None))
    # As many again answered on the phone without a ticket (consultations), and callers who
    # would hang up after a while in the queue.
    for _ in range(int(len(tickets) * 0.8)):
        out.append(_Arrival(arrival(rng, day_start), 0, None, rng.choice(pool),
                            rng.expovariate(1 / 150)))
    # A few short hang-ups whatever the wait.
    for _ in range(max(1, len(tickets) // 25)):
        out.append(_Arrival(arrival(rng, day_start), 0, None, rng.choice(pool),
                            rng.uniform(3, 12)))
    if burst:
        begin = day_start + dt.timedelta(hours=10, minutes=rng.randrange(0, 40))
        for _ in range(_BURST_CALLS):
            out.append(_Arrival(begin + dt.timedelta(seconds=rng.randrange(600)), 0, None,
                                rng.choice(pool), rng.expovariate(1 / 240)))
    for n, a in enumerate(out):
        a.seq = n
    return out


def _callbacks(rng: random.Random, tickets: Sequence[tuple[int, dt.datetime, int | None]],
               answered_by: dict[int, int], now: dt.datetime, next_id: int
               ) -> tuple[list[dict], list[dict]]:
    """A timed reply promised on about a quarter of the day's hotline tickets: most kept in
    time, some late, some never reaching the citizen. A promise not settled by ``now`` is
    left out: the scheduler would take a pending row for real work and ring the number."""
    callbacks: list[dict] = []
    attempts: list[dict] = []
    for ticket_id, created, citizen in tickets:
        if ticket_id not in answered_by or rng.random() >= 0.25:
            continue
        owner = answered_by[ticket_id]
        due = created + dt.timedelta(hours=rng.choice((2, 4, 4, 24, 48)))
        deadline = due + dt.timedelta(seconds=_SLA_GRACE_S)
        row = {"id": next_id, "ticket_id": ticket_id, "citizen_id": citizen, "due_at": due,
               "owner_agent_id": owner, "created_at": created, "quiet_hours_moved": False,
               "sla_deadline_at": deadline, "status": CallbackStatus.PENDING, "attempts": 0,
               "sla_met": None, "reached_at": None, "outcome": None, "late": None,
               "first_attempt_at": None}
        roll = rng.random()
        if roll < 0.75:  # kept: reached before the deadline, at the first or second try
            tries = 1 if rng.random() < 0.8 else 2
            first = due + dt.timedelta(seconds=rng.randint(-600, 60))
            gaps = [first + dt.timedelta(minutes=2 * i) for i in range(tries)]
            reached = gaps[-1] + dt.timedelta(seconds=rng.randint(10, 40))
            outcome = "met"
        elif roll < 0.88:  # late: the first try only after the deadline
            tries = 1
            first = deadline + dt.timedelta(seconds=min(rng.expovariate(1 / 5400), 30 * 3600))
            gaps = [first]
            reached = first + dt.timedelta(seconds=rng.randint(10, 40))
            outcome = "late"
        else:  # three tries, nobody answered
            tries = 3
            first = due + dt.timedelta(seconds=rng.randint(-300, 60))
            gaps = [first + dt.timedelta(minutes=20 * i) for i in range(tries)]
            reached = None
            outcome = "not_reached"
        if gaps[-1] + dt.timedelta(seconds=300) > now:
            # Not over by now: a pending row is live work the scheduler would dial.
            continue
        for i, at in enumerate(gaps):
            answered = reached is not None and i == tries - 1
            attempts.append({"callback_id": next_id, "started_at": at,
                             "ended_at": (reached + dt.timedelta(seconds=rng.randint(60, 240)))
                             if answered else at + dt.timedelta(seconds=45),
                             "outcome": "answered" if answered else "no_answer",
                             "agent_id": owner, "channel": None, "call_id": None,
                             "attempt_key": f"{SAMPLE_PREFIX}-cb-{next_id}-{i + 1}",
                             "citizen_answered_at": reached if answered else None,
                             "detail": "示例数据"})
        row.update(attempts=tries, first_attempt_at=gaps[0],
                   late=gaps[0] > due + dt.timedelta(seconds=60))
        if reached is None:
            row.update(status=CallbackStatus.FAILED, outcome="not_reached", sla_met=False)
        else:
            row.update(status=CallbackStatus.DONE, outcome="reached", reached_at=reached,
                       sla_met=outcome == "met")
        callbacks.append(row)
        next_id += 1
    return callbacks, attempts


def generate_line_history(session: Session, *, first_day: dt.date, days: int, timezone: str,
                          now: dt.datetime, seed: int = 19) -> LineHistory:
    """The calls, agents' shifts and callbacks of ``days`` days from ``first_day`` for the
    sample (``SX``) tickets already written (L{hotline.indices.history.generate_history}):
    one call per hotline ticket, more without a ticket, bursts every few days and on the last
    day. Only days over by ``now`` are played, and only promises settled by then written:
    what is still open would be live work (a logged-in agent, a callback to dial)."""
    rng = random.Random(seed * 7919 + 1)
    agents = _agents(session)
    pool = list(session.scalars(select(Citizen.id).where(Citizen.phone.like("1999%"))))
    phones = dict(session.execute(select(Citizen.id, Citizen.phone)
                                  .where(Citizen.phone.like("1999%"))).all())
    next_callback = (session.scalar(select(func.max(CallbackRow.id))) or 0) + 1
    totals = [0, 0, 0, 0]
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        start, end = day_bounds(day, timezone)
        if end > now:  # a day not over: its shifts are still open, which is live state
            break
        tickets = [(tid, created if created.tzinfo else created.replace(tzinfo=dt.UTC), cit)
                   for tid, created, cit in session.execute(
                       select(Ticket.id, Ticket.created_at, Ticket.citizen_id)
                       .where(Ticket.number.like(f"{SAMPLE_PREFIX}%"), Ticket.channel == "hotline",
                              Ticket.created_at >= start, Ticket.created_at < end)
                       .order_by(Ticket.id))]
        burst = offset % _BURST_EVERY == _BURST_EVERY // 2 or offset == days - 1
        played = _Day(rng, day, start, agents)
        played.play(_arrivals(rng, start, tickets, pool or [None], burst), phones)
        played.shifts()
        callbacks, attempts = _callbacks(rng, tickets, played.answered_by, now, next_callback)
        next_callback += len(callbacks)
        for model, rows in ((Call, played.calls), (AgentStateChange, played.changes),
                            (AgentSession, played.sessions), (CallbackRow, callbacks),
                            (CallbackAttempt, attempts)):
            if rows:
                session.execute(insert(model), rows)
        totals[0] += len(played.calls)
        totals[1] += sum(1 for c in played.calls if c["status"] == CallStatus.ABANDONED)
        totals[2] += len(played.changes)
        totals[3] += len(callbacks)
    resync_sequence(session, "callback")
    session.flush()
    return LineHistory(*totals)

