"""The scheduler's database work on SQLite and PostgreSQL: claims happen once, outcomes lead
to the right next step, scans find what falls due, surveys follow closures."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import func, select

from db.models import Call, Callback, CallbackAttempt, SurveyCall, SurveyResult, TicketEvent
from hotline import config as config_mod
from hotline.tickets.service import TicketService
from scheduler import store
from scheduler.policy import AttemptOutcome, SchedulerPolicy
from tests.scheduler.support import ensure_agents, new_ticket

SETTINGS = dict(config_mod.loads("")["scheduler"], quiet_hours="", max_attempts=2,
                retry_initial_s=60.0, retry_factor=1.0, sla_grace_s=300.0)
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _policy(**kw) -> SchedulerPolicy:
    return SchedulerPolicy(dict(SETTINGS, **kw), timezone="Asia/Shanghai")


def _due_callback(session, phone="13900000100", seconds=-1.0, owner=None) -> int:
    ticket_id = new_ticket(session, phone)
    ensure_agents(session, "1001")
    cb_id = store.promise(session, ticket_id, _now() + dt.timedelta(seconds=60),
                          owner_code=owner, actor="t", timezone="Asia/Shanghai")
    session.get(Callback, cb_id).due_at = _now() + dt.timedelta(seconds=seconds)
    session.flush()
    return cb_id


def test_an_attempt_is_claimed_once(session):
    """Two claims from the same reading: the first wins and writes the attempt row, the second
    (another node, or a replay) gets nothing."""
    cb_id = _due_callback(session)
    policy = _policy()
    info = store.prepare(session, cb_id, now=_now(), policy=policy)
    assert isinstance(info, store.CallbackInfo) and info.citizen_phone == "13900000100"
    key = store.claim(session, info, agent_code="1001", now=_now(), policy=policy)
    assert key == f"cb-{cb_id}-1"
    assert store.claim(session, info, agent_code="1001", now=_now(), policy=policy) is None
    assert session.scalar(select(func.count()).select_from(CallbackAttempt)) == 1
    cb = session.get(Callback, cb_id)
    assert cb.status == "in_progress" and cb.attempts == 1 and cb.late is False
    assert cb.sla_deadline_at == cb.due_at + dt.timedelta(seconds=300)
    assert [a.key for a in store.open_attempts(session)] == [key]


def test_outcomes_lead_to_retry_then_not_reached(session):
    """No answer: retried after the backoff; the last allowed failure makes it "not reached"
    with the SLA missed; a second report of the same attempt changes nothing."""
    cb_id = _due_callback(session)
    policy = _policy()
    for n in (1, 2):
        info = store.prepare(session, cb_id, now=_now(), policy=policy)
        if isinstance(info, store.Moved):  # the retry time: make it due now
            session.get(Callback, cb_id).next_attempt_at = _now() - dt.timedelta(seconds=1)
            info = store.prepare(session, cb_id, now=_now(), policy=policy)
        key = store.claim(session, info, agent_code="1001", now=_now(), policy=policy)
        now = _now()
        step, at = store.finish(session, key, AttemptOutcome("no_answer", "NOANSWER"),
                                now=now, policy=policy)
        if n == 1:
            assert step == "retry" and at == now + dt.timedelta(seconds=60)
            assert session.get(Callback, cb_id).status == "pending"
    assert step == "failed"
    cb = session.get(Callback, cb_id)
    assert (cb.status, cb.outcome, cb.sla_met) == ("failed", "not_reached", False)
    assert store.finish(session, key, AttemptOutcome("answered"), now=_now(),
                        policy=policy) == ("gone", None)


def test_agent_outcomes_do_not_spend_the_citizens_attempts(session):
    """An agent who did not answer leads to a quick retry, even past max_attempts."""
    cb_id = _due_callback(session)
    policy = _policy(max_attempts=1, agent_retry_s=5.0)
    info = store.prepare(session, cb_id, now=_now(), policy=policy)
    key = store.claim(session, info, agent_code="1001", now=_now(), policy=policy)
    step, _ = store.finish(session, key, AttemptOutcome("agent_no_answer"), now=_now(),
                           policy=policy)
    assert step == "retry"


@pytest.mark.parametrize("late_s, met", [(10, True), (400, False)])
def test_sla_is_stored_from_when_the_citizen_answered(session, late_s, met):
    """Reached within due + grace: SLA met, stored on the row; later: missed."""
    cb_id = _due_callback(session, seconds=-late_s)
    policy = _policy()
    info = store.prepare(session, cb_id, now=_now(), policy=policy)
    key = store.claim(session, info, agent_code="1001", now=_now(), policy=policy)
    answered = _now()
    assert store.finish(session, key, AttemptOutcome("answered", "", answered), now=_now(),
                        policy=policy) == ("done", None)
    cb = session.get(Callback, cb_id)
    assert cb.outcome == "reached" and cb.reached_at == answered and cb.sla_met is met
    assert cb.late is (late_s > 60)
    attempt = session.scalars(select(CallbackAttempt)).one()
    call = session.get(Call, attempt.call_id)
    assert (call.direction, call.uniqueid, call.status) == ("callback", key, "completed")
    assert call.caller_number == "13900000100" and call.ticket_id == cb.ticket_id


def test_quiet_hours_move_a_due_callback(session):
    """Due inside quiet hours: nothing is claimed, the row says when and that it moved."""
    cb_id = _due_callback(session)
    local = _now().astimezone(ZONE)
    start = (local - dt.timedelta(minutes=5)).strftime("%H:%M:%S")
    end_t = local + dt.timedelta(minutes=5)
    policy = _policy(quiet_hours=f"{start}-{end_t:%H:%M:%S}")
    moved = store.prepare(session, cb_id, now=_now(), policy=policy)
    assert isinstance(moved, store.Moved) and moved.why == "quiet hours"
    cb = session.get(Callback, cb_id)
    session.refresh(cb)
    assert cb.quiet_hours_moved and cb.next_attempt_at == moved.at
    assert cb.status == "pending" and cb.attempts == 0


def test_scan_finds_due_callbacks_reminders_and_new_closures(session):
    """Within the horizon: the attempt and its reminders; beyond it: nothing. Closures after
    the first scan become survey calls; those before it (history) do not."""
    history = new_ticket(session, "13900000101")
    TicketService().reply(session, history, actor="t", text="ok")
    TicketService().close(session, history, actor="t")
    ensure_agents(session, "1002")
    soon = store.promise(session, new_ticket(session, "13900000102", department="D01"),
                         _now() + dt.timedelta(seconds=600), owner_code="1002", actor="t",
                         timezone="Asia/Shanghai")
    far = store.promise(session, new_ticket(session, "13900000103"),
                        _now() + dt.timedelta(days=3), owner_code=None, actor="t",
                        timezone="Asia/Shanghai")
    settings = dict(SETTINGS, remind_department_before_s=300.0, remind_agent_before_s=120.0,
                    escalate_before_s=200.0, survey_delay_s=30.0)
    now = _now()
    found = store.scan(session, now=now, until=now + dt.timedelta(seconds=900),
                       settings=settings)
    assert set(found) == {("place", soon), ("remind_department", soon),
                          ("remind_agent", soon), ("escalate", soon)}
    due = session.get(Callback, soon).due_at
    assert found[("escalate", soon)] == due - dt.timedelta(seconds=200)
    assert ("place", far) not in found
    closed = new_ticket(session, "13900000104")
    TicketService().reply(session, closed, actor="t", text="ok")
    TicketService().close(session, closed, actor="t")
    found = store.scan(session, now=now, until=now + dt.timedelta(seconds=900),
                       settings=settings)
    surveys = session.scalars(select(SurveyCall)).all()
    assert [s.ticket_id for s in surveys] == [closed]
    assert ("survey", surveys[0].id) in found


def test_scan_reads_each_notice_only_while_it_is_still_to_send(session):
    """Each notice falls due at its own lead before the due time: a scan finds those that
    fall before its end, and none already sent or no longer needed (a replied ticket is not
    escalated nor its department reminded; its agent still is)."""
    ensure_agents(session, "1002")
    settings = dict(SETTINGS, remind_department_before_s=300.0, remind_agent_before_s=120.0,
                    escalate_before_s=200.0)

    def promised(phone: str, in_s: float) -> int:
        return store.promise(session, new_ticket(session, phone, department="D01"),
                             _now() + dt.timedelta(seconds=in_s), owner_code="1002",
                             actor="t", timezone="Asia/Shanghai")

    later = promised("13900000111", 1050)  # department at +750, escalate +850, agent +930
    sent = promised("13900000112", 600)
    replied = promised("13900000113", 600)
    cb = session.get(Callback, sent)
    cb.department_reminded_at = cb.agent_reminded_at = cb.escalated_at = _now()
    ticket_id = session.get(Callback, replied).ticket_id
    TicketService().start_handling(session, ticket_id, actor="D01")
    TicketService().reply(session, ticket_id, actor="D01", text="done")
    session.flush()
    now = _now()
    found = store.scan(session, now=now, until=now + dt.timedelta(seconds=900),
                       settings=settings, surveys=False)
    assert set(found) == {("remind_department", later), ("escalate", later),
                          ("place", sent), ("place", replied), ("remind_agent", replied)}


def test_notices_are_sent_once_and_only_while_needed(session):
    """A reminder is written once (ticket event + column); escalation skips a replied ticket."""
    ensure_agents(session, "1002")
    cb_id = store.promise(session, new_ticket(session, "13900000105", department="D01"),
                          _now() + dt.timedelta(hours=1), owner_code="1002", actor="t",
                          timezone="Asia/Shanghai")
    notice = store.send_notice(session, cb_id, "remind_agent", now=_now(), settings=SETTINGS,
                               zone=ZONE)
    assert notice is not None and notice.to == "agent 1002"
    assert store.send_notice(session, cb_id, "remind_agent", now=_now(), settings=SETTINGS,
                             zone=ZONE) is None
    ticket_id = session.get(Callback, cb_id).ticket_id
    TicketService().start_handling(session, ticket_id, actor="D01")
    TicketService().reply(session, ticket_id, actor="D01", text="done")
    assert store.send_notice(session, cb_id, "escalate", now=_now(), settings=SETTINGS,
                             zone=ZONE) is None
    actions = session.scalars(select(TicketEvent.action).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.actor == "scheduler")).all()
    assert actions == ["remind"]


def test_survey_retried_once_then_no_answer_and_ratings_checked(session):
    """No answer twice → "no_answer"; a digit outside 1–5 is "no_input"; 5 is stored."""
    policy = _policy()
    results = {}
    for phone, answers in (("13900000106", [(False, None), (False, None)]),
                           ("13900000107", [(True, None)]), ("13900000108", [(True, 5)])):
        ticket_id = new_ticket(session, phone)
        session.add(SurveyCall(ticket_id=ticket_id, status="pending", attempts=0,
                               next_attempt_at=_now()))
        session.flush()
        sv_id = session.scalars(select(SurveyCall.id).where(
            SurveyCall.ticket_id == ticket_id)).one()
        for answered, score in answers:
            info = store.claim_survey(session, sv_id, now=_now(), policy=policy)
            assert isinstance(info, store.SurveyInfo)
            step, _ = store.finish_survey(session, info.key, answered=answered, score=score,
                                          now=_now(), retry_s=60.0)
        assert step == "done"
        row = session.scalars(select(SurveyResult).where(
            SurveyResult.ticket_id == ticket_id)).one()
        results[phone] = (row.outcome, row.score)
    assert results == {"13900000106": ("no_answer", None), "13900000107": ("no_input", None),
                       "13900000108": ("rated", 5)}


def test_a_promise_to_an_unknown_agent_changes_nothing(session):
    """Bad input gets a clear error and leaves no callback behind."""
    ticket_id = new_ticket(session, "13900000109")
    session.commit()
    with pytest.raises(store.PromiseError, match="no agent"):
        store.promise(session, ticket_id, _now() + dt.timedelta(hours=1), owner_code="9999",
                      actor="t", timezone="Asia/Shanghai")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Callback)) == 0


def test_an_agents_own_promise_heads_their_list_before_anyones_earlier_callbacks(session):
    """The desk's 我的回拨: the agent's own promise is listed first even when many callbacks
    anyone may take fall due sooner (an incident's burst must not push it off the list)."""
    from hotline.web.accounts import Principal
    from scheduler.http import due_callbacks

    ensure_agents(session, "1002")
    for n in range(3):
        store.promise(session, new_ticket(session, f"1390000020{n}"),
                      _now() + dt.timedelta(seconds=60 + n), owner_code=None, actor="t",
                      timezone="Asia/Shanghai")
    mine = store.promise(session, new_ticket(session, "13900000210"),
                         _now() + dt.timedelta(hours=2), owner_code="1002", actor="t",
                         timezone="Asia/Shanghai")
    agent = Principal(user_id=1, username="agent2", display_name="", role="agent",
                      agent_code="1002", department_id=None, department_code=None,
                      department_name=None, token="t")
    listed = due_callbacks(session, agent, limit=2)
    assert [c["id"] for c in listed][0] == mine and len(listed) == 2
    assert listed[1]["owned"] is False
