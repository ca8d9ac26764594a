"""Tests for L{hotline.indices.warning}: the control limit, a spike raising exactly its alert,
ordinary days raising none, and an alert turned into a proactive task (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import EarlyWarning, Ticket
from hotline.indices.aggregate import catch_up
from hotline.indices.exceptions import NoSuchWarning, WarningHandled
from hotline.indices.history import Spike, generate_history
from hotline.indices.warning import BASELINE_DAYS, dismiss, make_task, poisson_limit, scan
from hotline.tickets.service import TicketService
from tests.indices.seed import TZ, small_district

FIRST = dt.date(2026, 9, 1)
SPIKE_DAY = dt.date(2026, 10, 5)
NOW = dt.datetime(2026, 10, 6, 4, 0, tzinfo=dt.UTC)


def _cdf(k: int, lam: float) -> float:
    return sum(math.exp(-lam) * lam ** i / math.factorial(i) for i in range(k + 1))


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 2.7, 8.0, 30.0])
def test_limit_is_the_poisson_upper_quantile(lam: float) -> None:
    """The limit is the smallest k whose Poisson CDF reaches 99.9 % (λ floored at 0.2)."""
    k = poisson_limit(lam)
    floor = max(lam, 0.2)
    assert _cdf(k, floor) >= 0.999 > _cdf(k - 1, floor)


@pytest.fixture
def history(session: Session) -> Session:
    small_district(session)
    generate_history(session, first_day=FIRST, days=(SPIKE_DAY - FIRST).days + 1, per_day=40,
                     timezone=TZ, now=NOW, citizens=150,
                     spikes=[Spike(SPIKE_DAY, "G003", "供水", 12)])
    catch_up(session, SPIKE_DAY, timezone=TZ)
    return session


def test_ordinary_days_raise_none(history: Session) -> None:
    """Every day with a full baseline before the spike raises no warning."""
    first = FIRST + dt.timedelta(days=BASELINE_DAYS)
    day = first
    while day < SPIKE_DAY:
        assert scan(history, day, timezone=TZ) == [], day
        day += dt.timedelta(days=1)


def test_spike_raises_exactly_its_alert_with_evidence(history: Session) -> None:
    """The spiked grid × category, and only it, is raised, with its baseline days and the
    day's ticket numbers as evidence; scanning again raises nothing new."""
    raised = scan(history, SPIKE_DAY, timezone=TZ)
    assert [(w.grid.code, w.category) for w in raised] == [("G003", "供水")]
    warning = raised[0]
    assert warning.count > warning.control_limit == poisson_limit(warning.baseline)
    assert len(warning.evidence["baseline_counts"]) == BASELINE_DAYS
    assert warning.baseline == pytest.approx(sum(warning.evidence["baseline_counts"]) / 28)
    assert len(warning.evidence["tickets"]) == warning.count
    assert scan(history, SPIKE_DAY, timezone=TZ) == []


def test_alert_becomes_a_proactive_task_once(history: Session) -> None:
    """A warning turned into a task makes one received ticket on the proactive channel in its
    grid and category; a second attempt, or dismissing it then, is refused."""
    warning = scan(history, SPIKE_DAY, timezone=TZ)[0]
    tickets = TicketService(timezone=TZ)
    ticket = make_task(history, warning.id, tickets=tickets, actor="boss")
    assert (ticket.channel, ticket.status, ticket.category, ticket.grid.code) == (
        "proactive", "received", "供水", "G003")
    assert "未诉先办" in ticket.description and warning.evidence["tickets"][0] in \
        ticket.description
    assert history.get(EarlyWarning, warning.id).status == "tasked"
    with pytest.raises(WarningHandled):
        make_task(history, warning.id, tickets=tickets, actor="boss")
    with pytest.raises(WarningHandled):
        dismiss(history, warning.id, actor="boss")
    with pytest.raises(NoSuchWarning):
        dismiss(history, 999_999, actor="boss")
    assert history.scalar(select(Ticket.id).where(Ticket.channel == "proactive")) == ticket.id
