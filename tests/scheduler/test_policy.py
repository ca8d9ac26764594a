"""The timed-reply rules without a reactor: quiet hours, retries, SLA, outcomes."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline import config as config_mod
from scheduler.policy import (
    PolicyError,
    QuietHours,
    SchedulerPolicy,
    outcome_from_dialstatus,
    outcome_from_originate,
)

SH = dt.timezone(dt.timedelta(hours=8))


def _policy(**settings) -> SchedulerPolicy:
    base = dict(config_mod.loads("")["scheduler"])
    base.update(settings)
    return SchedulerPolicy(base, timezone="Asia/Shanghai")


def test_quiet_hours_across_midnight_move_to_the_morning():
    """21:00–08:00 site time: 23:30 and 02:00 move to 08:00 the next/same morning; 12:00 stays."""
    quiet = QuietHours.parse("21:00-08:00", "Asia/Shanghai")
    late = dt.datetime(2026, 11, 26, 23, 30, tzinfo=SH)
    assert quiet.contains(late)
    assert quiet.next_allowed(late) == dt.datetime(2026, 11, 27, 8, 0, tzinfo=SH)
    night = dt.datetime(2026, 11, 27, 2, 0, tzinfo=SH)
    assert quiet.next_allowed(night) == dt.datetime(2026, 11, 27, 8, 0, tzinfo=SH)
    noon = dt.datetime(2026, 11, 27, 12, 0, tzinfo=SH)
    assert not quiet.contains(noon) and quiet.next_allowed(noon) == noon
    assert not quiet.contains(dt.datetime(2026, 11, 27, 8, 0, tzinfo=SH))
    assert quiet.contains(dt.datetime(2026, 11, 27, 21, 0, tzinfo=SH))


def test_quiet_hours_within_a_day_and_none():
    """A window inside one day, with seconds; an empty text or equal ends mean none."""
    quiet = QuietHours.parse("12:00:00-13:30:15", "Asia/Shanghai")
    at = dt.datetime(2026, 11, 27, 12, 10, tzinfo=SH)
    assert quiet.next_allowed(at) == dt.datetime(2026, 11, 27, 13, 30, 15, tzinfo=SH)
    for text in ("", "08:00-08:00"):
        assert not QuietHours.parse(text, "Asia/Shanghai").active


@pytest.mark.parametrize("text", ["21-08", "25:00-08:00", "21:00", "21:00-08:61", "x-y"])
def test_bad_quiet_hours_are_refused_with_a_reason(text):
    """Malformed windows raise PolicyError naming the problem."""
    with pytest.raises(PolicyError, match="quiet hours"):
        QuietHours.parse(text, "Asia/Shanghai")


def test_bad_settings_are_refused():
    """Nonsense limits are refused before anything starts."""
    with pytest.raises(PolicyError, match="max_attempts"):
        _policy(max_attempts=0)
    with pytest.raises(PolicyError, match="sla_grace_s"):
        _policy(sla_grace_s=-1.0)
    with pytest.raises(PolicyError, match="time zone"):
        SchedulerPolicy(dict(config_mod.loads("")["scheduler"]), timezone="Mars/Base")


def test_retries_back_off_then_fail_and_avoid_quiet_hours():
    """Citizen failures back off by the factor up to the cap, then the callback fails; an
    agent who did not answer is retried soon without spending the citizen's attempts."""
    p = _policy(quiet_hours="", retry_initial_s=60.0, retry_factor=2.0, retry_max_s=200.0,
                max_attempts=3, agent_retry_s=10.0)
    now = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)
    assert [p.retry_delay(n) for n in (1, 2, 3, 4)] == [60.0, 120.0, 200.0, 200.0]
    assert p.next_step("no_answer", 1, now) == ("retry", now + dt.timedelta(seconds=60), False)
    assert p.next_step("busy", 3, now) == ("failed", None, False)
    assert p.next_step("agent_no_answer", 9, now)[:2] == ("retry",
                                                          now + dt.timedelta(seconds=10))
    assert p.next_step("answered", 1, now) == ("done", None, False)
    q = _policy(quiet_hours="21:00-08:00", retry_initial_s=3600.0, max_attempts=3)
    evening = dt.datetime(2026, 11, 27, 20, 30, tzinfo=SH)
    step, at, moved = q.next_step("no_answer", 1, evening)
    assert step == "retry" and moved and at == dt.datetime(2026, 11, 28, 8, 0, tzinfo=SH)


def test_sla_late_and_handover():
    """The SLA deadline is due plus grace; lateness and hand-over use their own settings."""
    p = _policy(sla_grace_s=300.0, late_tolerance_s=60.0, handover_after_s=600.0)
    due = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    assert p.sla_deadline(due) == due + dt.timedelta(minutes=5)
    assert not p.is_late(due, due + dt.timedelta(seconds=60))
    assert p.is_late(due, due + dt.timedelta(seconds=61))
    assert not p.handover_due(due, due + dt.timedelta(minutes=9))
    assert p.handover_due(due, due + dt.timedelta(minutes=10))


def test_outcomes_from_asterisk():
    """DIALSTATUS and Originate reasons map to attempt outcomes; a very short answer is a
    citizen hang-up, and no status at all means the agent left first."""
    assert outcome_from_dialstatus("ANSWER", 30, 2) == "answered"
    assert outcome_from_dialstatus("ANSWER", 1, 2) == "citizen_hangup"
    assert outcome_from_dialstatus("NOANSWER", None, 2) == "no_answer"
    assert outcome_from_dialstatus("BUSY", None, 2) == "busy"
    assert outcome_from_dialstatus("CHANUNAVAIL", None, 2) == "failed"
    assert outcome_from_dialstatus("CANCEL", None, 2) == "agent_hangup"
    assert outcome_from_dialstatus("", None, 2) == "agent_hangup"
    assert outcome_from_originate("3") == "agent_no_answer"
    assert outcome_from_originate(5) == "agent_busy"
    assert outcome_from_originate("0") == "agent_failed"
    assert outcome_from_originate("junk") == "agent_failed"
