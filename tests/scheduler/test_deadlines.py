"""Deadline reminders and 督办 notices on SQLite and PostgreSQL: found by the scan when due,
sent once, owed afresh after the clock moves, the call's attempts and outcomes recorded; the
survey's verdict reopens or closes; what the call says, prompt by prompt."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import select

from db.models import Department, DepartmentNotice, SurveyCall, Ticket, TicketEvent
from hotline.pbx.prompts import PROMPTS
from hotline.tickets.service import TicketService
from scheduler import deadlines, store
from tests.scheduler.support import new_ticket

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _due_soon(session, phone: str, *, warn_s: float, due_s: float, duty: str | None) -> int:
    """A ticket dispatched to D01 whose clock turns yellow and red in a few seconds."""
    ticket_id = new_ticket(session, phone, department="D01")
    session.scalars(select(Department).where(Department.code == "D01")).one() \
        .duty_number = duty
    ticket = session.get(Ticket, ticket_id)
    ticket.warn_at = _now() + dt.timedelta(seconds=warn_s)
    ticket.due_at = _now() + dt.timedelta(seconds=due_s)
    session.flush()
    return ticket_id


def test_scan_finds_reminders_and_supervision_when_due(session):
    """Within the horizon the reminder and the 督办 notice of an open ticket are found at
    their times; a replied ticket's are not; a sent one is not found again."""
    t = _due_soon(session, "13900000201", warn_s=60, due_s=120, duty=None)
    replied = _due_soon(session, "13900000202", warn_s=60, due_s=120, duty=None)
    TicketService().accept(session, replied, actor="D01")
    TicketService().reply(session, replied, actor="D01", text="已办")
    now = _now()
    found = deadlines.scan_deadlines(session, until=now + dt.timedelta(seconds=600))
    ticket = session.get(Ticket, t)
    assert found == {("deadline_warn", t): ticket.warn_at,
                     ("deadline_overdue", t): ticket.due_at}
    ticket.warned_at = now
    session.flush()
    found = deadlines.scan_deadlines(session, until=now + dt.timedelta(seconds=600))
    assert set(found) == {("deadline_overdue", t)}


def test_notice_sent_once_with_a_call_owed_to_the_duty_number(session):
    """The reminder writes one notice (call pending to the duty number) and one ticket event;
    sending it again does nothing; a department without a duty number gets the page only."""
    t = _due_soon(session, "13900000203", warn_s=-1, due_s=3600, duty="041100000001")
    sent = deadlines.send_deadline_notice(session, t, "deadline_warn", now=_now(), zone=ZONE,
                                          calls=True)
    assert sent is not None and sent.notice["kind"] == "remind"
    assert sent.notice["call_status"] == "pending" and sent.ticket["id"] == t
    assert deadlines.send_deadline_notice(session, t, "deadline_warn", now=_now(), zone=ZONE,
                                          calls=True) is None
    other = _due_soon(session, "13900000204", warn_s=-10, due_s=-1, duty=None)
    late = deadlines.send_deadline_notice(session, other, "deadline_overdue", now=_now(),
                                          zone=ZONE, calls=True)
    assert late is not None and late.notice["kind"] == "supervise"
    assert late.notice["call_status"] == "none"
    assert "督办" in late.notice["text"]
    actions = session.scalars(select(TicketEvent.action).where(
        TicketEvent.actor == "scheduler").order_by(TicketEvent.id)).all()
    assert actions == ["remind", "supervise"]


def test_a_moved_deadline_owes_its_notices_again(session):
    """After an approved extension the reminder of the new clock is owed again."""
    t = _due_soon(session, "13900000205", warn_s=-1, due_s=3600, duty=None)
    service = TicketService()
    assert deadlines.send_deadline_notice(session, t, "deadline_warn", now=_now(), zone=ZONE,
                                          calls=False) is not None
    service.accept(session, t, actor="D01")
    ext = service.request_extension(session, t, actor="D01", days=2, reason="等待材料")
    service.decide_extension(session, ext.id, actor="boss", approve=True)
    ticket = session.get(Ticket, t)
    assert ticket.warned_at is None and ticket.warn_at > _now()


def test_reminder_call_attempts_and_outcomes(session):
    """No answer is tried again up to the limit, then recorded as no answer; a 1 pressed is
    confirmed; each outcome goes on the ticket's record."""
    t = _due_soon(session, "13900000206", warn_s=-1, due_s=3600, duty="041100000002")
    notice = deadlines.send_deadline_notice(session, t, "deadline_warn", now=_now(), zone=ZONE,
                                            calls=True).notice
    first = deadlines.claim_reminder_call(session, notice["id"], now=_now())
    assert first is not None and first.key == f"rm-{notice['id']}-1"
    assert deadlines.claim_reminder_call(session, notice["id"], now=_now()) is None
    step, at, _ = deadlines.finish_reminder_call(session, first.key, answered=False, digit=None,
                                                 now=_now(), retry_s=5, max_attempts=2)
    assert step == "retry" and at is not None
    second = deadlines.claim_reminder_call(session, notice["id"], now=_now())
    step, _, pushed = deadlines.finish_reminder_call(session, second.key, answered=False,
                                                     digit=None, now=_now(), retry_s=5,
                                                     max_attempts=2)
    assert step == "done" and pushed.notice["call_outcome"] == "no_answer"
    again = _due_soon(session, "13900000207", warn_s=-10, due_s=-1, duty="041100000002")
    n2 = deadlines.send_deadline_notice(session, again, "deadline_overdue", now=_now(),
                                        zone=ZONE, calls=True).notice
    claimed = deadlines.claim_reminder_call(session, n2["id"], now=_now())
    _, _, pushed = deadlines.finish_reminder_call(session, claimed.key, answered=True, digit=1,
                                                  now=_now(), retry_s=5, max_attempts=2)
    row = session.get(DepartmentNotice, n2["id"])
    assert (row.call_outcome, row.call_digit, row.call_status) == ("confirmed", "1", "done")
    texts = session.scalars(select(TicketEvent.text).where(
        TicketEvent.ticket_id == again, TicketEvent.action == "reminder_call")).all()
    assert texts and "按 1 确认" in texts[0]


def test_survey_verdicts_reopen_or_close(session):
    """A survey of the round just answered: 2 reopens the ticket to its department, 5 (on a
    replied ticket) closes it after a satisfied follow-up; an older round's rating does
    nothing."""
    service = TicketService()
    t = _due_soon(session, "13900000208", warn_s=60, due_s=120, duty=None)
    service.accept(session, t, actor="D01")
    service.reply(session, t, actor="D01", text="已办")
    sv = SurveyCall(ticket_id=t, round=0, status="done", attempts=1,
                    next_attempt_at=_now(), created_at=_now())
    session.add(sv)
    session.flush()
    assert store.survey_verdict(session, sv, 2, tickets=service, reopen_max_score=2) == "reopen"
    ticket = session.get(Ticket, t)
    assert ticket.status == "reopened" and ticket.reopen_count == 1
    assert store.survey_verdict(session, sv, 5, tickets=service, reopen_max_score=2) is None
    service.accept(session, t, actor="D01")
    service.reply(session, t, actor="D01", text="再次处理")
    sv2 = SurveyCall(ticket_id=t, round=1, status="done", attempts=1,
                     next_attempt_at=_now(), created_at=_now())
    session.add(sv2)
    session.flush()
    assert store.survey_verdict(session, sv2, 5, tickets=service, reopen_max_score=2) == "close"
    assert session.get(Ticket, t).status == "closed"


def test_replies_owe_a_follow_up_survey_when_configured(session):
    """With follow_up = survey, a department's reply owes a survey for its round; a reopened
    ticket replied again owes another; without it only closures do."""
    settings = dict(store_settings(), follow_up="survey", survey_delay_s=0.0)
    store._collect_closures(session, _now(), settings)  # the first scan sets the watermark
    service = TicketService()
    t = _due_soon(session, "13900000209", warn_s=60, due_s=120, duty=None)
    service.accept(session, t, actor="D01")
    service.reply(session, t, actor="D01", text="已办")
    store._collect_closures(session, _now(), settings)
    service.reopen(session, t, actor="survey", text="不满意")
    service.accept(session, t, actor="D01")
    service.reply(session, t, actor="D01", text="再办")
    store._collect_closures(session, _now(), settings)
    rounds = session.scalars(select(SurveyCall.round).where(SurveyCall.ticket_id == t)
                             .order_by(SurveyCall.round)).all()
    assert rounds == [0, 1]
    quiet = new_ticket(session, "13900000210", department="D01")
    service.accept(session, quiet, actor="D01")
    service.reply(session, quiet, actor="D01", text="已办")
    store._collect_closures(session, _now(), dict(settings, follow_up="agent"))
    assert session.scalars(select(SurveyCall).where(SurveyCall.ticket_id == quiet)).all() == []


def store_settings() -> dict:
    from hotline import config as config_mod

    return dict(config_mod.loads("")["scheduler"])


def test_the_call_names_the_ticket_and_the_deadline_in_prompts_that_exist():
    """The reminder says who calls, the ticket's digits one by one, the deadline as month,
    day, hour and minute, and "press 1"; every prompt it names is one the PBX has."""
    due = dt.datetime(2026, 11, 27, 17, 5, tzinfo=ZONE)
    words = deadlines.spoken_reminder("remind", "RX20261126-000123", due)
    assert words[0] == "reminder-intro" and words[-1] == "reminder-press1"
    digits = [w for w in words[1:15]]
    assert digits == [f"digit-{c}" for c in "20261126000123"]
    assert words[15:] == ["reminder-due", "num-10", "digit-1", "word-yue", "digit-2", "num-10",
                          "digit-7", "word-ri", "num-10", "digit-7", "word-dian", "digit-5",
                          "word-fen", "reminder-press1"]
    overdue = deadlines.spoken_reminder("supervise", "RX1", due.replace(minute=0))
    assert overdue[0] == "supervise-intro" and "reminder-overdue" in overdue
    assert "word-zheng" in overdue
    assert set(words) | set(overdue) <= set(PROMPTS)


def test_the_survey_watermark_never_moves_back(session):
    """A scan that read an older top and commits after a history load (which moved the
    watermark past its events) leaves the load's watermark: the history stays unsurveyed."""
    store._advance_watermark(session, 40, _now())
    store._advance_watermark(session, 25, _now())  # the late scan's older top
    assert store.get_state(session, store._SURVEY_WATERMARK) == "40"
    store._advance_watermark(session, 41, _now())
    assert store.get_state(session, store._SURVEY_WATERMARK) == "41"
