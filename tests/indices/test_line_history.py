"""Tests for L{hotline.indices.line_history}: the demo's SAMPLE calls, agents' shifts and
callbacks fill the service figures, the pressure curve's thresholds, the callback SLA report
and the daily report, and agree with the tickets they go with and with each other."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    AgentSession,
    AgentStateChange,
    Call,
    Callback,
    CallbackStatus,
    CallStatus,
    Ticket,
)
from hotline.indices.history import HistoryResult, demo_history
from hotline.indices.line_history import SAMPLE_AGENTS, _arrivals, _Day
from hotline.reports.daily import build_daily
from hotline.reports.periods import day_period, period
from hotline.reports.pressure import Measure, Thresholds, pressure_report
from hotline.reports.service_level import service_report
from hotline.reports.sla import sla_report
from hotline.sample import seed_sample

TZ = "Asia/Shanghai"
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 site time
DAYS = 10
YESTERDAY = TODAY - dt.timedelta(days=1)  # the last day: always a burst


@pytest.fixture
def loaded(session: Session) -> HistoryResult:
    seed_sample(session)
    written = demo_history(session, today=TODAY, timezone=TZ, now=NOW, days=DAYS, per_day=60)
    assert written is not None
    session.commit()
    return written


def test_the_burst_day_crosses_every_pressure_threshold(session: Session,
                                                       loaded: HistoryResult) -> None:
    """Yesterday's pressure curve has calls in its steps and its burst crosses the calls
    waiting, service level and agents free lines, each crossing within the day."""
    day = day_period(YESTERDAY, TZ)
    report = pressure_report(session, day, thresholds=Thresholds(), now=NOW)
    assert sum(s.service.settled for s in report.steps) > 50
    assert max(s.calls_waiting for s in report.steps) > Thresholds().calls_waiting
    assert {c.measure for c in report.crossings} == set(Measure)
    assert all(day.start <= c.at < day.end for c in report.crossings)
    judged = [s.agents_free for s in report.steps if s.agents_free is not None]
    assert judged and max(judged) >= 2


def test_service_figures_count_exactly_the_calls_written(session: Session,
                                                         loaded: HistoryResult) -> None:
    """The service report over the history counts every sample call once, answered ≤
    offered, a service level between 0 and 1, and its abandons are the history's."""
    first = TODAY - dt.timedelta(days=DAYS)
    report = service_report(session, period(first, YESTERDAY, TZ), by="day")
    total = report.total
    assert total.settled == loaded.calls == session.scalar(select(func.count(Call.id)))
    assert total.abandoned == loaded.abandoned > 0
    assert 0 < total.answered <= total.settled
    assert total.service_level is not None and 0 < total.service_level < 1
    assert len(report.rows) == DAYS and all(r.settled > 0 for r in report.rows)
    daily = build_daily(session, YESTERDAY, timezone=TZ, now=NOW)
    assert daily.inbound_calls == report.rows[-1].settled
    assert sum(h.calls for h in daily.pressure) == daily.inbound_calls


def test_every_hotline_ticket_was_taken_on_an_answered_call(session: Session,
                                                            loaded: HistoryResult) -> None:
    """Each sample hotline ticket has exactly one call, answered by a sample agent; no ticket
    of another channel has one; abandoned calls have no agent and no ticket."""
    hotline = session.scalar(select(func.count(Ticket.id)).where(Ticket.channel == "hotline"))
    with_calls = session.execute(
        select(Ticket.channel, Call.status, Call.agent_id, func.count(Call.id))
        .join(Call, Call.ticket_id == Ticket.id)
        .group_by(Ticket.channel, Call.status, Call.agent_id)).all()
    assert {channel for channel, *_ in with_calls} == {"hotline"}
    assert {status for _, status, *_ in with_calls} == {CallStatus.COMPLETED}
    assert sum(n for *_, n in with_calls) == hotline > 0
    assert session.scalar(select(func.count(func.distinct(Call.ticket_id)))) == hotline
    assert session.scalar(select(func.count(Call.id)).where(
        Call.status == CallStatus.ABANDONED,
        (Call.agent_id.is_not(None)) | (Call.ticket_id.is_not(None))
        | Call.answered_at.is_not(None))) == 0


def test_an_agent_answers_only_while_logged_in_free_and_not_on_another_call(
        session: Session, loaded: HistoryResult) -> None:
    """Replaying each sample agent's state changes: every answered call began while its agent
    was logged in and not paused or in after-call work, and no agent's calls overlap."""
    changes: dict[int, list[tuple[dt.datetime, str]]] = {}
    for agent, at, state in session.execute(
            select(AgentStateChange.agent_id, AgentStateChange.at, AgentStateChange.state)
            .order_by(AgentStateChange.at, AgentStateChange.id)):
        changes.setdefault(agent, []).append((at, state))
    assert len(changes) == len(SAMPLE_AGENTS)
    assert session.scalar(select(func.count(AgentSession.id)).where(
        AgentSession.logout_at.is_(None))) == 0
    calls = session.execute(select(Call.agent_id, Call.answered_at, Call.ended_at)
                            .where(Call.agent_id.is_not(None))
                            .order_by(Call.agent_id, Call.answered_at)).all()
    assert calls
    previous: dict[int, dt.datetime] = {}
    for agent, answered, ended in calls:
        before = [state for at, state in changes[agent] if at <= answered]
        assert before and before[-1] in ("login", "unpause", "wrapup_end"), (agent, answered)
        assert agent not in previous or previous[agent] <= answered
        previous[agent] = ended


def test_sla_report_has_kept_late_and_unreached_promises(session: Session,
                                                          loaded: HistoryResult) -> None:
    """The callback SLA report over the history counts every sample callback, with promises
    kept, late and never reached, by sample agent; late ones are in the lateness
    distribution; none is left pending for the scheduler to dial."""
    first = TODAY - dt.timedelta(days=DAYS)
    report = sla_report(session, period(first, TODAY + dt.timedelta(days=3), TZ), by="agent",
                        now=NOW)
    totals = report.totals
    assert totals.due == loaded.callbacks == session.scalar(select(func.count(Callback.id)))
    assert totals.met > totals.late > 0 and totals.not_reached > 0
    assert totals.pending == 0 and session.scalar(select(func.count(Callback.id)).where(
        Callback.status.not_in((CallbackStatus.DONE, CallbackStatus.FAILED)))) == 0
    assert sum(n for _, n in report.lateness) == totals.late
    assert totals.met_rate is not None and 0 < totals.met_rate < 1
    assert report.groups and {g.key for g in report.groups} <= {c for c, _ in SAMPLE_AGENTS}
    assert sum(g.counts.due for g in report.groups) == totals.due


def test_loading_twice_writes_no_second_line(session: Session, loaded: HistoryResult) -> None:
    """A second demo load is skipped: no call, state change or callback is added."""
    counts = [session.scalar(select(func.count(m.id))) for m in (Call, AgentStateChange,
                                                                 Callback)]
    assert demo_history(session, today=TODAY, timezone=TZ, now=NOW) is None
    assert [session.scalar(select(func.count(m.id))) for m in (Call, AgentStateChange,
                                                               Callback)] == counts


def test_a_day_is_the_same_for_the_same_seed() -> None:
    """Playing a day twice from the same seed gives the same calls and state changes; another
    seed gives other calls."""
    start = dt.datetime(2026, 11, 18, 16, 0, tzinfo=dt.UTC)
    tickets = [(n, start + dt.timedelta(hours=9, minutes=7 * n), n) for n in range(1, 40)]

    def play(seed: int) -> tuple[list[dict], list[dict]]:
        rng = random.Random(seed)
        day = _Day(rng, YESTERDAY, start, list(range(1, len(SAMPLE_AGENTS) + 1)))
        day.play(_arrivals(rng, start, tickets, [1, 2, 3], burst=True), {})
        day.shifts()
        return day.calls, day.changes

    assert play(7) == play(7)
    assert play(7)[0] != play(8)[0]
