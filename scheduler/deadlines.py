# -*- test-case-name: tests.scheduler.test_deadlines -*-
"""Statutory deadlines that reach people: the reminder before a ticket's deadline (临期) and the
督办 notice once it has passed, each shown on the department's and the supervisor's pages and
called to the department's duty number ("press 1 to confirm"), the call's outcome recorded.

Database work for the scheduler (every function takes a session and runs on the database's
thread pool). Like the callbacks, each step that must happen once is a conditional UPDATE:
whoever's UPDATE matched sends the notice or places the call. When a ticket's clock changes
(an extension, a reopening, a new dispatch) its notices are owed afresh (``warned_at`` and
``overdue_at`` are cleared by the ticket service).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from db.models import (
    Department,
    DepartmentNotice,
    ReminderCallOutcome,
    ReminderCallStatus,
    Ticket,
    TicketEvent,
)
from db.prepared import Prepared, cursor_for
from hotline import phone
from hotline.naming import reminder_key
from hotline.pbx.prompts import spoken_time
from hotline.tickets.schemas import WITH_DEPARTMENT
from hotline.tickets.worklists import notice_dict

__all__ = ["TicketNotice", "scan_deadlines", "send_deadline_notice", "ReminderCallInfo",
           "claim_reminder_call", "finish_reminder_call", "open_reminder_calls",
           "spoken_reminder", "NOTICE_KINDS", "surveyed_ticket"]

#: Book entry kind → the notice it sends.
NOTICE_KINDS = {"deadline_warn": "remind", "deadline_overdue": "supervise"}

_OPEN = [str(s) for s in WITH_DEPARTMENT]


@dataclass(frozen=True)
class TicketNotice:
    """What the scheduler tells the console to push: a notice (``worklists.notice_dict``)
    and/or a ticket that changed (the fields the worklists show)."""

    notice: dict[str, Any] | None = None
    ticket: dict[str, Any] | None = None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def scan_deadlines(session: Session, *, until: dt.datetime) -> dict[tuple[str, int], dt.datetime]:
    """Reminders, 督办 notices and reminder calls falling due before ``until`` (indexed reads:
    ``ix_ticket_warn_scan``, ``ix_ticket_overdue_scan``, ``ix_department_notice_call``),
    prepared once (L{db.prepared}): every scheduler sync runs them."""
    cursor = cursor_for(session)
    out: dict[tuple[str, int], dt.datetime] = {}
    for ticket_id, at in cursor.all(_WARN_DUE, until=until):
        out[("deadline_warn", ticket_id)] = at
    for ticket_id, at in cursor.all(_OVERDUE_DUE, until=until):
        out[("deadline_overdue", ticket_id)] = at
    for notice_id, at in cursor.all(_REMINDER_CALLS_DUE, until=until):
        out[("reminder_call", notice_id)] = at
    return out


def _until() -> Any:
    return bindparam("until", type_=Ticket.due_at.type)


_WARN_DUE = Prepared(select(Ticket.id, Ticket.warn_at).where(
    Ticket.status.in_(_OPEN), Ticket.warned_at.is_(None), Ticket.warn_at <= _until(),
    Ticket.department_id.is_not(None)))
_OVERDUE_DUE = Prepared(select(Ticket.id, Ticket.due_at).where(
    Ticket.status.in_(_OPEN), Ticket.overdue_at.is_(None), Ticket.due_at <= _until(),
    Ticket.department_id.is_not(None)))
_REMINDER_CALLS_DUE = Prepared(select(DepartmentNotice.id, DepartmentNotice.call_next_at).where(
    DepartmentNotice.call_status == ReminderCallStatus.PENDING,
    DepartmentNotice.call_next_at <= _until()))


def _ticket_change(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "number": ticket.number, "status": ticket.status,
            "department": ticket.department.code if ticket.department else None,
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
            "version": ticket.version, "reopen_count": ticket.reopen_count}


def send_deadline_notice(session: Session, ticket_id: int, kind: str, *, now: dt.datetime,
                         zone: Any, calls: bool) -> TicketNotice | None:
    """Send the reminder (``deadline_warn``) or the 督办 notice (``deadline_overdue``) of the
    ticket's current clock, once: the notice row, a ticket event, and a reminder call owed to
    the duty number (``calls`` and a number known). None when it is no longer due (replied,
    the deadline moved, another node sent it)."""
    column = Ticket.warned_at if kind == "deadline_warn" else Ticket.overdue_at
    when = Ticket.warn_at if kind == "deadline_warn" else Ticket.due_at
    won = session.execute(
        update(Ticket).where(Ticket.id == ticket_id, column.is_(None),
                             Ticket.status.in_(_OPEN), Ticket.department_id.is_not(None),
                             when <= now + dt.timedelta(seconds=1))
        .values({column: now}).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return None
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.due_at is not None
    session.refresh(ticket)
    if kind == "deadline_warn" and ticket.due_at <= now:
        return None  # overdue already: the 督办 notice says more
    dept = session.get(Department, ticket.department_id)
    due = ticket.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if kind == "deadline_warn":
        notice_kind = "remind"
        text = f"临期提醒：工单 {ticket.number} 办理期限 {due}，请及时办理并回复"
    else:
        notice_kind = "supervise"
        text = f"督办：工单 {ticket.number} 已超过办理期限 {due}，请立即办理并回复"
    number = dept.duty_number if dept is not None else None
    call = calls and bool(number)
    notice = DepartmentNotice(
        ticket_id=ticket.id, department_id=ticket.department_id, kind=notice_kind, at=now,
        due_at=ticket.due_at, text=text, duty_number=number,
        call_status=ReminderCallStatus.PENDING if call else ReminderCallStatus.NONE, call_attempts=0,
        call_next_at=now if call else None)
    session.add(notice)
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor="scheduler",
                            action=notice_kind, text=text + (
                                f"（电话提醒 {phone.mask(number)}）" if call and number
                                else "（该部门无值班电话，仅页面提醒）")))
    session.flush()
    return TicketNotice(notice=notice_dict(notice, ticket.number, dept.code if dept else None),
                        ticket=_ticket_change(ticket))


@dataclass(frozen=True)
class ReminderCallInfo:
    """What placing one reminder call needs."""

    notice_id: int
    key: str
    number: str
    ticket_number: str
    kind: str
    due_at: dt.datetime


def claim_reminder_call(session: Session, notice_id: int, *,
                        now: dt.datetime) -> ReminderCallInfo | None:
    """Take the next attempt of a reminder call; None if it is not pending (done, or another
    node took it)."""
    n = session.get(DepartmentNotice, notice_id)
    if n is None or n.call_status != ReminderCallStatus.PENDING or not n.duty_number:
        return None
    key = reminder_key(n.id, n.call_attempts + 1)
    won = session.execute(
        update(DepartmentNotice).where(DepartmentNotice.id == n.id,
                                       DepartmentNotice.call_status == ReminderCallStatus.PENDING,
                                       DepartmentNotice.call_attempts == n.call_attempts)
        .values(call_status=ReminderCallStatus.IN_PROGRESS, call_attempts=n.call_attempts + 1, call_key=key)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return None
    number = session.scalar(select(Ticket.number).where(Ticket.id == n.ticket_id))
    return ReminderCallInfo(notice_id=n.id, key=key, number=n.duty_number,
                            ticket_number=number or "", kind=n.kind,
                            due_at=_aware(n.due_at))  # type: ignore[arg-type]


def finish_reminder_call(session: Session, key: str, *, answered: bool, digit: int | None,
                         now: dt.datetime, retry_s: float, max_attempts: int
                         ) -> tuple[str, dt.datetime | None, TicketNotice | None]:
    """Record how attempt ``key`` ended: ``("retry", at, notice)`` after no answer with tries
    left, else ``("done", None, notice)`` with the outcome (confirmed: 1 pressed; answered;
    no_answer) on the notice and the ticket's record."""
    n = session.scalars(select(DepartmentNotice)
                        .where(DepartmentNotice.call_key == key)).one_or_none()
    if n is None or n.call_status != ReminderCallStatus.IN_PROGRESS:
        return "gone", None, None
    ticket_number = session.scalar(select(Ticket.number).where(Ticket.id == n.ticket_id)) or ""
    code = session.scalar(select(Department.code).where(Department.id == n.department_id))
    if not answered and n.call_attempts < max_attempts:
        n.call_status = ReminderCallStatus.PENDING
        n.call_next_at = now + dt.timedelta(seconds=retry_s)
        session.flush()
        return "retry", n.call_next_at, TicketNotice(notice=notice_dict(n, ticket_number, code))
    n.call_status, n.call_finished_at = ReminderCallStatus.DONE, now
    n.call_digit = str(digit) if digit is not None else None
    out = ReminderCallOutcome
    n.call_outcome = out.CONFIRMED if digit == 1 else (out.ANSWERED if answered else out.NO_ANSWER)
    said = {out.CONFIRMED: "已接听并按 1 确认", out.ANSWERED: "已接听，未确认",
            out.NO_ANSWER: f"{n.call_attempts} 次拨打均未接听"}[n.call_outcome]
    session.add(TicketEvent(ticket_id=n.ticket_id, at=now, actor="scheduler",
                            action="reminder_call",
                            text=f"{'督办' if n.kind == 'supervise' else '临期提醒'}电话 "
                                 f"{phone.mask(n.duty_number or '')}：{said}"))
    session.flush()
    return "done", None, TicketNotice(notice=notice_dict(n, ticket_number, code))


def surveyed_ticket(session: Session, key: str) -> TicketNotice | None:
    """The ticket a survey attempt was about, as it is now (its verdict may have reopened or
    closed it): for the pages."""
    from db.models import SurveyCall

    ticket_id = session.scalar(select(SurveyCall.ticket_id).where(SurveyCall.attempt_key == key))
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    return TicketNotice(ticket=_ticket_change(ticket)) if ticket is not None else None


def open_reminder_calls(session: Session) -> list[str]:
    """Attempts claimed but never finished (the scheduler stopped meanwhile)."""
    return list(session.scalars(select(DepartmentNotice.call_key).where(
        DepartmentNotice.call_status == ReminderCallStatus.IN_PROGRESS,
        DepartmentNotice.call_key.is_not(None))))


# -- what the call says ---------------------------------------------------------------------------

def spoken_reminder(kind: str, ticket_number: str, due_local: dt.datetime) -> list[str]:
    """The prompt names (``hotline.pbx.prompts.PROMPTS``) the reminder call plays, in order:
    who calls, the ticket number digit by digit, the deadline, "press 1 to confirm"."""
    words = ["supervise-intro" if kind == "supervise" else "reminder-intro"]
    words += [f"digit-{c}" for c in ticket_number if c.isdigit()]
    words.append("reminder-overdue" if kind == "supervise" else "reminder-due")
    words += spoken_time(due_local)
    words.append("reminder-press1")
    return words
