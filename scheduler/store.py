# -*- test-case-name: tests.scheduler.test_store -*-
"""The scheduler's database work: the callback table is the source of truth.

Every function takes a ``Session`` and runs on the database's thread pool (``Database.run``),
never on the reactor. Every change that must happen once across restarts and nodes is a
conditional UPDATE (``WHERE status = 'pending' AND attempts = n``): whoever's UPDATE matched a
row owns that step, so two schedulers can never place the same attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, bindparam, cast, func, insert, or_, select, update
from sqlalchemy.orm import Session

from db.models import (
    Agent,
    Call,
    Callback,
    CallbackAttempt,
    CallbackOutcome,
    CallbackStatus,
    CallStatus,
    Citizen,
    Department,
    SchedulerState,
    SurveyCall,
    SurveyResult,
    SurveyStatus,
    Ticket,
    TicketEvent,
)
from db.prepared import Prepared, cursor_for
from db.session import dialect_insert
from scheduler.policy import CITIZEN_OUTCOMES, AttemptOutcome, SchedulerPolicy

__all__ = [
    "Entry", "scan", "CallbackInfo", "prepare", "Moved", "claim", "finish", "open_attempts",
    "OpenAttempt", "Notice", "send_notice", "SurveyInfo", "claim_survey", "finish_survey",
    "open_surveys", "NOT_REPLIED", "set_state", "get_state",
]

#: Ticket statuses in which the department has not replied yet (escalation applies).
NOT_REPLIED = ("received", "dispatched", "handling", "reopened")

#: Key of the last ticket event scanned for closures (surveys).
_SURVEY_WATERMARK = "survey.last_event_id"

#: (kind, id): what falls due. Kinds: place, remind_department, remind_agent, escalate, survey.
Entry = tuple[str, int]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def get_state(session: Session, key: str) -> str | None:
    row = session.get(SchedulerState, key)
    return row.value if row is not None else None


def set_state(session: Session, key: str, value: str, now: dt.datetime, *,
              only_up: bool = False) -> None:
    """Upsert one fact (two nodes writing the same key both succeed); with ``only_up`` an
    integer fact is only ever raised (a writer that read an older value cannot lower it)."""
    stmt = dialect_insert(session)(SchedulerState).values(key=key, value=value, updated_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now},
        where=cast(SchedulerState.value, Integer) < int(value) if only_up else None))


def _advance_watermark(session: Session, top: int, now: dt.datetime) -> None:
    """Move the survey watermark up to ``top``, never back: a scan that read an older top and
    commits after a history load (L{skip_surveys_so_far}) must not reopen that history."""
    set_state(session, _SURVEY_WATERMARK, str(top), now, only_up=True)


# -- what falls due --------------------------------------------------------------------------

def scan(session: Session, *, now: dt.datetime, until: dt.datetime, settings: dict[str, Any],
         surveys: bool = True) -> dict[Entry, dt.datetime]:
    """Everything due before ``until``: attempts, reminders, escalations and surveys.

    Also turns ticket closures seen since the last scan into survey calls (once each: the
    watermark is the last ticket event id scanned; the first scan starts from now, so history
    is never surveyed). Every ``sync_interval_s`` on the leading node, busy or idle: its reads
    are prepared statements (L{db.prepared}), built and compiled once.
    """
    cursor = cursor_for(session)
    out: dict[Entry, dt.datetime] = {}
    for cb_id, due_at, next_at in cursor.all(_DUE_ATTEMPTS, until=until):
        out[("place", cb_id)] = next_at or due_at
    leads = {"remind_department": settings["remind_department_before_s"],
             "remind_agent": settings["remind_agent_before_s"],
             "escalate": settings["escalate_before_s"]}
    def before(kind: str) -> dt.datetime:  # due by then: this notice falls before ``until``
        return until + dt.timedelta(seconds=leads[kind])

    rows = cursor.all(_NOTICES_DUE, now=now, latest=max(before(k) for k in leads),
                      agent_by=before("remind_agent"),
                      department_by=before("remind_department"),
                      escalate_by=before("escalate"))
    for cb_id, due_at, owner, dept, status, dept_done, agent_done, esc_done in rows:
        not_replied = status in NOT_REPLIED
        if dept is not None and not_replied and dept_done is None:
            out[("remind_department", cb_id)] = due_at - dt.timedelta(
                seconds=leads["remind_department"])
        if owner is not None and agent_done is None:
            out[("remind_agent", cb_id)] = due_at - dt.timedelta(seconds=leads["remind_agent"])
        if dept is not None and not_replied and esc_done is None:
            out[("escalate", cb_id)] = due_at - dt.timedelta(seconds=leads["escalate"])
    for key in [k for k, at in out.items() if k[0] != "place" and at > until]:
        del out[key]
    # Tickets' statutory deadlines: reminders, 督办 notices and their calls.
    from scheduler.deadlines import scan_deadlines

    out.update(scan_deadlines(session, until=until))
    if surveys:
        _collect_closures(session, now, settings)
        for sv_id, at in cursor.all(_SURVEYS_DUE, until=until):
            out[("survey", sv_id)] = at
    return out


def _until(name: str) -> Any:
    """A time parameter compared with the callback table's times (stored as they are)."""
    return bindparam(name, type_=Callback.due_at.type)


_DUE_ATTEMPTS = Prepared(
    select(Callback.id, Callback.due_at, Callback.next_attempt_at)
    .where(Callback.status == CallbackStatus.PENDING,
           or_(Callback.due_at <= _until("until"), Callback.next_attempt_at <= _until("until")))
    .where(func.coalesce(Callback.next_attempt_at, Callback.due_at) <= _until("until")))
# Only rows with a notice still to send within the horizon: with 7,200 s of lead this read
# every callback of the next two hours every sync (9,000 rows in bench.scheduler), ~100 ms of
# SQLAlchemy row work holding the GIL against the reactor.
_NOTICES_DUE = Prepared(
    select(Callback.id, Callback.due_at, Callback.owner_agent_id, Ticket.department_id,
           Ticket.status, Callback.department_reminded_at, Callback.agent_reminded_at,
           Callback.escalated_at)
    .join(Ticket, Ticket.id == Callback.ticket_id)
    .where(Callback.status == CallbackStatus.PENDING, Callback.attempts == 0,
           Callback.due_at <= _until("latest"), Callback.due_at > _until("now"))
    .where(or_(
        and_(Callback.owner_agent_id.is_not(None), Callback.agent_reminded_at.is_(None),
             Callback.due_at <= _until("agent_by")),
        and_(Ticket.department_id.is_not(None), Ticket.status.in_(NOT_REPLIED),
             or_(and_(Callback.department_reminded_at.is_(None),
                      Callback.due_at <= _until("department_by")),
                 and_(Callback.escalated_at.is_(None),
                      Callback.due_at <= _until("escalate_by")))))))
_SURVEYS_DUE = Prepared(
    select(SurveyCall.id, SurveyCall.next_attempt_at)
    .where(SurveyCall.status == SurveyStatus.PENDING,
           SurveyCall.next_attempt_at <= bindparam("until", type_=SurveyCall.next_attempt_at.type)))
_LAST_TICKET_EVENT = Prepared(select(func.max(TicketEvent.id)))


def _closures(owed: Any) -> Prepared:
    return Prepared(
        select(TicketEvent.ticket_id, TicketEvent.at, Ticket.reopen_count)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.id > bindparam("after"), TicketEvent.id <= bindparam("upto"), owed))


#: The ticket events that owe a survey: closes, and (``follow_up = "survey"``) a department's
#: replies too.
_CLOSURES = {
    False: _closures(TicketEvent.action == "close"),
    True: _closures(or_(TicketEvent.action == "close",
                        and_(TicketEvent.action == "reply", Ticket.department_id.is_not(None)))),
}


def _collect_closures(session: Session, now: dt.datetime, settings: dict[str, Any]) -> None:
    """Surveys owed since the last scan: for every ticket closed, and (``follow_up =
    "survey"``) for every ticket a department replied to: the follow-up by survey. One per
    ticket and round (its ``reopen_count``), so a reply then a close ask once, and a reopened
    ticket is asked again after its next answer."""
    cursor = cursor_for(session)
    last = get_state(session, _SURVEY_WATERMARK)
    top = cursor.scalar(_LAST_TICKET_EVENT) or 0
    if last is None:
        _advance_watermark(session, top, now)
        return
    if top == int(last):
        return  # no ticket event since the last scan
    closed = cursor.all(_CLOSURES[settings.get("follow_up") == "survey"],
                        after=int(last), upto=top)
    insert_ = dialect_insert(session)
    for ticket_id, at, round_ in closed:
        when = max(at, now) + dt.timedelta(seconds=settings["survey_delay_s"])
        session.execute(insert_(SurveyCall).values(
            ticket_id=ticket_id, round=round_ or 0, status=CallbackStatus.PENDING, attempts=0,
            next_attempt_at=when, created_at=now).on_conflict_do_nothing())
    _advance_watermark(session, top, now)


def skip_surveys_so_far(session: Session, now: dt.datetime) -> None:
    """Owe no survey for any ticket event written so far: for the unit of work that loads
    history (the demo's SAMPLE history, a site's import of its past tickets) into a database
    whose scheduler has already scanned, so that closures long past never ring a citizen.
    (The first scan of a new database starts from its newest event for the same reason; a
    load that comes after it must say so.) Closures not yet scanned are skipped with them:
    call it where history is written, not on a line taking calls."""
    _advance_watermark(session, cursor_for(session).scalar(_LAST_TICKET_EVENT) or 0, now)


# -- placing a callback ----------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackInfo:
    """What placing one callback needs, read in one unit of work (ids and text, no ORM)."""

    id: int
    ticket_id: int
    ticket_number: str
    citizen_phone: str
    due_at: dt.datetime
    attempts: int
    owner_code: str | None
    handed_over: bool
    first_attempt: bool = True
    deadline_set: bool = False


@dataclass(frozen=True)
class Moved:
    """The attempt may not happen now: it was moved to ``at`` (quiet hours) or is gone."""

    at: dt.datetime | None
    why: str


def prepare(session: Session, callback_id: int, *, now: dt.datetime,
            policy: SchedulerPolicy) -> CallbackInfo | Moved:
    """Read a due callback (one joined SELECT: this runs for every attempt); moves it out of
    quiet hours (recorded on the row) if need be."""
    row = session.execute(
        select(Callback.status, Callback.due_at, Callback.next_attempt_at, Callback.attempts,
               Callback.handed_over_at, Callback.first_attempt_at, Callback.sla_deadline_at,
               Ticket.id, Ticket.number, Citizen.phone, Agent.code)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .outerjoin(Citizen, Citizen.id == func.coalesce(Callback.citizen_id, Ticket.citizen_id))
        .outerjoin(Agent, Agent.id == Callback.owner_agent_id)
        .where(Callback.id == callback_id)).one_or_none()
    if row is None or row[0] != CallbackStatus.PENDING:
        return Moved(None, f"not pending ({row[0] if row else 'deleted'})")
    (_, due_at, next_at, attempts, handed_over_at, first_at, deadline, ticket_id,
     ticket_number, citizen_phone, owner_code) = row
    pending = (Callback.id == callback_id, Callback.status == CallbackStatus.PENDING)
    place_at = next_at or due_at
    if place_at > now + dt.timedelta(seconds=1):
        return Moved(place_at, "not due yet (moved)")
    if policy.quiet.contains(now):
        at = policy.quiet.next_allowed(now)
        session.execute(update(Callback).where(*pending)
                        .values(next_attempt_at=at, quiet_hours_moved=True)
                        .execution_options(synchronize_session=False))
        return Moved(at, "quiet hours")
    if citizen_phone is None:
        session.execute(update(Callback).where(*pending)
                        .values(status=CallbackStatus.FAILED, outcome=CallbackOutcome.NOT_REACHED, sla_met=False,
                                sla_deadline_at=policy.sla_deadline(due_at))
                        .execution_options(synchronize_session=False))
        return Moved(None, "no citizen number to call")
    return CallbackInfo(id=callback_id, ticket_id=ticket_id, ticket_number=ticket_number,
                        citizen_phone=citizen_phone, due_at=due_at, attempts=attempts,
                        owner_code=owner_code, handed_over=handed_over_at is not None,
                        first_attempt=first_at is None, deadline_set=deadline is not None)


def attempt_key(callback_id: int, number: int) -> str:
    """The agent leg's ChannelId for attempt ``number``: stable, so a restart can find it."""
    return f"cb-{callback_id}-{number}"


def claim(session: Session, info: CallbackInfo, *, agent_code: str, now: dt.datetime,
          policy: SchedulerPolicy, hand_over: bool = False) -> str | None:
    """Take the next attempt of a callback; returns its key, or None if another node (or an
    earlier run) already took it. The attempt row exists before anything is dialled.

    The UPDATE only matches the row as ``prepare`` read it (pending, same attempt count), so
    whatever else ``info`` says is still true when it matches.
    """
    handing_over = hand_over and not info.handed_over
    values: dict[str, Any] = {"status": CallbackStatus.IN_PROGRESS, "attempts": info.attempts + 1}
    if info.first_attempt:
        values["first_attempt_at"] = now
        values["late"] = policy.is_late(info.due_at, now)
    if not info.deadline_set:
        values["sla_deadline_at"] = policy.sla_deadline(info.due_at)
    if handing_over:
        values["handed_over_at"] = now
    won = session.execute(
        update(Callback).where(Callback.id == info.id, Callback.status == CallbackStatus.PENDING,
                               Callback.attempts == info.attempts).values(**values)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return None
    key = attempt_key(info.id, info.attempts + 1)
    agent_id = session.scalar(select(Agent.id).where(Agent.code == agent_code))
    session.execute(insert(CallbackAttempt).values(
        callback_id=info.id, started_at=now, agent_id=agent_id, attempt_key=key,
        channel=f"PJSIP/agent-{agent_code}"))
    if handing_over:
        session.execute(insert(TicketEvent).values(
            ticket_id=info.ticket_id, at=now, actor="scheduler", action="handover",
            text=f"callback handed over to agent {agent_code}: the owner did not take it "
                 "in time"))
    return key


def finish(session: Session, key: str, result: AttemptOutcome, *, now: dt.datetime,
           policy: SchedulerPolicy) -> tuple[str, dt.datetime | None]:
    """Record how attempt ``key`` ended and what follows: ``("done"|"failed"|"retry", at)``.

    Idempotent: an attempt already ended keeps its first outcome.
    """
    attempt = session.scalars(select(CallbackAttempt)
                              .where(CallbackAttempt.attempt_key == key)).one_or_none()
    if attempt is None:
        return "gone", None
    cb = session.get(Callback, attempt.callback_id)
    if attempt.ended_at is not None or cb is None or cb.status != CallbackStatus.IN_PROGRESS:
        return "gone", None
    attempt.ended_at = now
    attempt.outcome = result.outcome
    attempt.detail = (result.detail or "")[:200] or None
    attempt.citizen_answered_at = result.citizen_answered_at
    attempt.call_id = _call_row(session, cb, attempt, key, result, now)
    session.flush()
    citizen_tries = session.scalar(
        select(func.count()).select_from(CallbackAttempt)
        .where(CallbackAttempt.callback_id == cb.id,
               CallbackAttempt.outcome.in_(sorted(CITIZEN_OUTCOMES)))) or 0
    step, at, moved = policy.next_step(result.outcome, citizen_tries, now)
    deadline = cb.sla_deadline_at or policy.sla_deadline(cb.due_at)
    if step == "done":
        reached = result.citizen_answered_at or now
        cb.status, cb.outcome, cb.reached_at = (CallbackStatus.DONE, CallbackOutcome.REACHED,
                                                reached)
        cb.sla_met = reached <= deadline
    elif step == "failed":
        cb.status, cb.outcome, cb.sla_met = (CallbackStatus.FAILED,
                                             CallbackOutcome.NOT_REACHED, False)
    else:
        cb.status, cb.next_attempt_at = CallbackStatus.PENDING, at
        if moved:
            cb.quiet_hours_moved = True
    cb.sla_deadline_at = deadline
    if step in ("done", "failed"):
        text = (f"callback: citizen reached ({'SLA met' if cb.sla_met else 'SLA missed'})"
                if step == "done" else
                f"callback: citizen not reached after {citizen_tries} attempts (SLA missed)")
        session.add(TicketEvent(ticket_id=cb.ticket_id, at=now, actor="scheduler",
                                action="callback", text=text))
    return step, at


def _call_row(session: Session, cb: Callback, attempt: CallbackAttempt, key: str,
              result: AttemptOutcome, now: dt.datetime) -> int | None:
    """The attempt as a call row (direction ``callback``), so call reports count callbacks
    with every other call; the agent leg's ChannelId is its uniqueid."""
    if result.outcome.startswith("agent_"):
        return None  # the citizen's phone never rang: no call with the citizen
    answered = result.citizen_answered_at
    citizen_phone = session.scalar(select(Citizen.phone).where(Citizen.id == cb.citizen_id)) \
        if cb.citizen_id else None
    call = Call(uniqueid=key, linkedid=key, direction="callback", caller_number=citizen_phone,
                citizen_id=cb.citizen_id, started_at=attempt.started_at, answered_at=answered,
                ended_at=now, talk_s=(now - answered).total_seconds() if answered else None,
                agent_id=attempt.agent_id, status=CallStatus.COMPLETED if answered else CallStatus.FAILED,
                ticket_id=cb.ticket_id)
    session.add(call)
    session.flush()
    return call.id


@dataclass(frozen=True)
class OpenAttempt:
    """An attempt claimed but never finished (the scheduler stopped or died meanwhile)."""

    key: str
    callback_id: int
    started_at: dt.datetime


def open_attempts(session: Session) -> list[OpenAttempt]:
    rows = session.execute(
        select(CallbackAttempt.attempt_key, CallbackAttempt.callback_id,
               CallbackAttempt.started_at)
        .join(Callback, Callback.id == CallbackAttempt.callback_id)
        .where(Callback.status == CallbackStatus.IN_PROGRESS, CallbackAttempt.ended_at.is_(None),
               CallbackAttempt.attempt_key.is_not(None))).all()
    return [OpenAttempt(k, c, _aware(s)) for k, c, s in rows]  # type: ignore[arg-type]


# -- reminders and escalation ----------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """A reminder or an escalation that was sent (also written as a ticket event)."""

    kind: str
    callback_id: int
    ticket_id: int
    ticket_number: str
    to: str
    text: str


_NOTICE_COLUMN = {"remind_department": "department_reminded_at",
                  "remind_agent": "agent_reminded_at", "escalate": "escalated_at"}


def send_notice(session: Session, callback_id: int, kind: str, *, now: dt.datetime,
                settings: dict[str, Any], zone: Any) -> Notice | None:
    """Send (record) one reminder or escalation, once; None if no longer needed."""
    column = getattr(Callback, _NOTICE_COLUMN[kind])
    cb = session.get(Callback, callback_id)
    if cb is None or cb.status != CallbackStatus.PENDING or getattr(cb, _NOTICE_COLUMN[kind]) is not None:
        return None
    ticket = session.get(Ticket, cb.ticket_id)
    if ticket is None:
        return None
    if kind != "remind_agent" and ticket.status not in NOT_REPLIED:
        return None
    due = cb.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    dept = session.get(Department, ticket.department_id) if ticket.department_id else None
    dept_name = f"{dept.code} {dept.name}" if dept else "-"
    if kind == "remind_department":
        to, action = f"department {dept_name}", "remind"
        text = f"reminder to {to}: reply to {ticket.number} is promised by {due}"
    elif kind == "remind_agent":
        owner = session.get(Agent, cb.owner_agent_id) if cb.owner_agent_id else None
        if owner is None:
            return None
        to, action = f"agent {owner.code}", "remind"
        text = f"reminder to {to}: callback for {ticket.number} is due at {due}"
    else:
        to, action = f"supervisor {settings['supervisor']}", "escalate"
        text = (f"escalated to {to}: department {dept_name} has not replied to "
                f"{ticket.number} (status {ticket.status}); reply promised by {due}")
    won = session.execute(update(Callback).where(Callback.id == callback_id, column.is_(None))
                          .values({column: now}))
    if won.rowcount != 1:
        return None
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor="scheduler", action=action,
                            text=text))
    return Notice(kind=kind, callback_id=callback_id, ticket_id=ticket.id,
                  ticket_number=ticket.number, to=to, text=text)


# -- surveys ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SurveyInfo:
    id: int
    ticket_id: int
    ticket_number: str
    citizen_phone: str
    key: str


def claim_survey(session: Session, survey_id: int, *, now: dt.datetime,
                 policy: SchedulerPolicy) -> SurveyInfo | Moved:
    """Take the next survey attempt (quiet hours respected); Moved when not ours to place."""
    sv = session.get(SurveyCall, survey_id)
    if sv is None or sv.status != SurveyStatus.PENDING:
        return Moved(None, "not pending")
    if policy.quiet.contains(now):
        at = policy.quiet.next_allowed(now)
        sv.next_attempt_at = at
        return Moved(at, "quiet hours")
    ticket = session.get(Ticket, sv.ticket_id)
    citizen = ticket.citizen if ticket else None
    if ticket is None or citizen is None:
        sv.status, sv.finished_at = SurveyStatus.DONE, now
        return Moved(None, "no citizen to survey")
    key = f"sv-{sv.id}-{sv.attempts + 1}"
    won = session.execute(update(SurveyCall).where(
        SurveyCall.id == sv.id, SurveyCall.status == SurveyStatus.PENDING,
        SurveyCall.attempts == sv.attempts).values(status=SurveyStatus.IN_PROGRESS,
                                                   attempts=sv.attempts + 1, attempt_key=key))
    if won.rowcount != 1:
        return Moved(None, "taken by another node")
    return SurveyInfo(id=sv.id, ticket_id=ticket.id, ticket_number=ticket.number,
                      citizen_phone=citizen.phone, key=key)


def finish_survey(session: Session, key: str, *, answered: bool, score: int | None,
                  now: dt.datetime, retry_s: float, tickets: Any = None,
                  reopen_max_score: int = 2) -> tuple[str, dt.datetime | None]:
    """Store the rating (or no input), or retry once after no answer, then record no answer.

    With ``tickets`` (a TicketService) the rating is the citizen's verdict on the answer of the
    round surveyed: at most ``reopen_max_score`` (不满意) reopens the ticket to its department;
    more, on a ticket replied to, is a satisfied follow-up that closes it (see
    ``survey_verdict``)."""
    sv = session.scalars(select(SurveyCall).where(SurveyCall.attempt_key == key)).one_or_none()
    if sv is None or sv.status != SurveyStatus.IN_PROGRESS:
        return "gone", None
    if not answered and sv.attempts < 2:
        sv.status = SurveyStatus.PENDING
        sv.next_attempt_at = now + dt.timedelta(seconds=retry_s)
        return "retry", sv.next_attempt_at
    if answered:
        outcome = "rated" if score is not None and 1 <= score <= 5 else "no_input"
    else:
        outcome = "no_answer"
    session.add(SurveyResult(ticket_id=sv.ticket_id, score=score if outcome == "rated" else None,
                             outcome=outcome, at=now))
    sv.status, sv.finished_at = SurveyStatus.DONE, now
    session.add(TicketEvent(ticket_id=sv.ticket_id, at=now, actor="scheduler", action="survey",
                            text=f"satisfaction survey: {outcome}"
                                 + (f" {score}/5" if outcome == "rated" else "")))
    if tickets is not None and outcome == "rated" and score is not None:
        survey_verdict(session, sv, score, tickets=tickets, reopen_max_score=reopen_max_score)
    return "done", None


def survey_verdict(session: Session, sv: SurveyCall, score: int, *, tickets: Any,
                   reopen_max_score: int) -> str | None:
    """Act on a survey's rating: reopen (不满意重办) or close after a satisfied follow-up.
    Only for the round surveyed (a ticket reopened since is left alone); returns the step
    taken, or None."""
    from hotline.tickets.exceptions import TicketError
    from hotline.tickets.schemas import TicketStatus as S

    ticket = session.get(Ticket, sv.ticket_id)
    if ticket is None or (ticket.reopen_count or 0) != sv.round:
        return None
    try:
        if score <= reopen_max_score and ticket.status in (S.REPLIED, S.FOLLOWED_UP, S.CLOSED):
            tickets.reopen(session, ticket.id, actor="survey",
                           text=f"满意度回访 {score} 分：市民不满意")
            return "reopen"
        if score > reopen_max_score and ticket.status == S.REPLIED:
            tickets.follow_up(session, ticket.id, actor="survey", satisfied=True,
                              text=f"满意度回访 {score} 分")
            return "close"
    except TicketError:  # changed by a person meanwhile: their step stands
        return None
    return None


def open_surveys(session: Session) -> list[str]:
    return list(session.scalars(select(SurveyCall.attempt_key)
                                .where(SurveyCall.status == SurveyStatus.IN_PROGRESS,
                                       SurveyCall.attempt_key.is_not(None))))


# -- promises and the report -----------------------------------------------------------------

class PromiseError(ValueError):
    """A promise cannot be recorded; the message says why (nothing was changed)."""


def promise(session: Session, ticket: str | int, at: dt.datetime, *, owner_code: str | None,
            actor: str, timezone: str) -> int:
    """Promise a reply to ticket ``ticket`` (id or number) by ``at``, optionally owned by one
    agent; returns the pending callback's id. Raises PromiseError or a TicketError."""
    from hotline.tickets.service import TicketService

    service = TicketService(timezone=timezone)
    row = service.get(session, ticket) if isinstance(ticket, int) else \
        service.get_by_number(session, ticket)
    owner_id = None
    if owner_code is not None:
        owner_id = session.scalar(select(Agent.id).where(Agent.code == owner_code))
        if owner_id is None:
            raise PromiseError(f"no agent with code {owner_code!r}")
    service.set_promised_reply(session, row.id, at, actor=actor)
    # The first reporter's pending callback (co-reporters have their own: issue 18).
    cb = session.scalars(select(Callback).where(
        Callback.ticket_id == row.id, Callback.status == CallbackStatus.PENDING,
        or_(Callback.citizen_id == row.citizen_id, Callback.citizen_id.is_(None)))
        .order_by(Callback.id)).first()
    cb.owner_agent_id = owner_id
    cb.next_attempt_at = None
    session.flush()
    return cb.id


@dataclass(frozen=True)
class CallbackRow:
    """One line of the callback report (phone masked: the report is for supervisors)."""

    id: int
    ticket_number: str
    citizen: str
    due_at: dt.datetime
    owner: str | None
    status: str
    outcome: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    late: bool | None
    quiet_hours_moved: bool
    handed_over: bool
    escalated: bool
    sla_met: bool | None
    reached_at: dt.datetime | None


def list_callbacks(session: Session, *, status: str | None = None,
                   limit: int = 50) -> list[CallbackRow]:
    from hotline import phone

    q = (select(Callback, Ticket.number, Citizen.phone, Agent.code)
         .join(Ticket, Ticket.id == Callback.ticket_id)
         .outerjoin(Citizen, Citizen.id == Callback.citizen_id)
         .outerjoin(Agent, Agent.id == Callback.owner_agent_id)
         .order_by(Callback.due_at.desc()).limit(limit))
    if status:
        q = q.where(Callback.status == status)
    out = []
    for cb, number, citizen_phone, owner in session.execute(q):
        out.append(CallbackRow(
            id=cb.id, ticket_number=number,
            citizen=phone.mask(citizen_phone) if citizen_phone else "-", due_at=cb.due_at,
            owner=owner, status=cb.status, outcome=cb.outcome, attempts=cb.attempts,
            next_attempt_at=cb.next_attempt_at, late=cb.late,
            quiet_hours_moved=bool(cb.quiet_hours_moved),
            handed_over=cb.handed_over_at is not None, escalated=cb.escalated_at is not None,
            sla_met=cb.sla_met, reached_at=cb.reached_at))
    return out


__all__ += ["PromiseError", "promise", "CallbackRow", "list_callbacks"]


# -- dialling from the desk (the agent's 回拨 button) -----------------------------------------

class DialRefused(Exception):
    """A callback may not be dialled from the desk now. ``reason`` is a stable id for the web
    layer (``not-running``, ``no-such-callback``, ``being-placed``, ``already-done``,
    ``not-yours``, ``quiet-hours``, ``no-number``, ``agent-busy``); the message says why in
    words. Nothing was changed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def prepare_dial(session: Session, callback_id: int, *, agent_code: str, now: dt.datetime,
                 policy: SchedulerPolicy) -> CallbackInfo:
    """What ``claim`` needs to place callback ``callback_id`` now, ringing ``agent_code``
    (due or not yet: the agent chose to call back now). Raises DialRefused and writes nothing
    when it is being placed, has ended, is owned by another agent (and not handed over), falls
    in quiet hours or has no number to call."""
    row = session.execute(
        select(Callback.status, Callback.due_at, Callback.attempts, Callback.handed_over_at,
               Callback.first_attempt_at, Callback.sla_deadline_at, Ticket.id, Ticket.number,
               Citizen.phone, Agent.code)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .outerjoin(Citizen, Citizen.id == func.coalesce(Callback.citizen_id, Ticket.citizen_id))
        .outerjoin(Agent, Agent.id == Callback.owner_agent_id)
        .where(Callback.id == callback_id)).one_or_none()
    if row is None:
        raise DialRefused("no-such-callback", f"没有这个回拨 (no callback {callback_id})")
    (status, due_at, attempts, handed_over_at, first_at, deadline, ticket_id, ticket_number,
     citizen_phone, owner_code) = row
    if status == CallbackStatus.IN_PROGRESS:
        raise DialRefused("being-placed", "该回拨正在拨打中 (this callback is being placed "
                                          "right now)")
    if status != CallbackStatus.PENDING:
        raise DialRefused("already-done", f"该回拨已结束 (this callback is {status})")
    if owner_code and owner_code != agent_code and handed_over_at is None:
        raise DialRefused("not-yours", f"该回拨由坐席 {owner_code} 负责 (only its owner may "
                                       "dial it)")
    if policy.quiet.contains(now):
        raise DialRefused("quiet-hours", "免打扰时段内不回拨 (quiet hours: the scheduler "
                                         "calls at their end)")
    if citizen_phone is None:
        raise DialRefused("no-number", "该回拨没有市民号码 (no citizen number to call)")
    return CallbackInfo(id=callback_id, ticket_id=ticket_id, ticket_number=ticket_number,
                        citizen_phone=citizen_phone, due_at=_aware(due_at),  # type: ignore[arg-type]
                        attempts=attempts, owner_code=owner_code,
                        handed_over=handed_over_at is not None, first_attempt=first_at is None,
                        deadline_set=deadline is not None)


__all__ += ["DialRefused", "prepare_dial"]


def overflow_promise(session: Session, *, uniqueid: str, caller: str, reason: str,
                     due: dt.datetime, timezone: str) -> str:
    """File the ticket of a call the queue could not take (``reason``: Asterisk's QUEUESTATUS,
    FULL or TIMEOUT) and promise its callback by ``due``; returns the ticket's number."""
    from hotline.tickets.service import TicketService

    ticket = TicketService(timezone=timezone).intake(session, {
        "channel": "hotline", "kind": "help", "phone": caller, "call_uniqueid": uniqueid,
        "description": f"来电未能接通（{'排队已满' if reason == 'FULL' else '等待超时'}），"
                       "系统已承诺回电"}, actor="overflow")
    promise(session, ticket.id, due, owner_code=None, actor="overflow", timezone=timezone)
    return ticket.number


def kept_place_promise(session: Session, *, uniqueid: str, caller: str, agent_code: str,
                       now: dt.datetime, timezone: str) -> int:
    """File the ticket of a caller who kept their place in the queue (按1保留排队位置) and
    promise their callback now, owned by the agent their turn reserved; returns the callback
    id. Like an overflow call (L{overflow_promise}) the caller was never answered, so the
    ticket is what carries the promise: the scheduler places, retries and reports it as any
    timed reply."""
    from hotline.tickets.service import TicketService

    ticket = TicketService(timezone=timezone, clock=lambda: now).intake(session, {
        "channel": "hotline", "kind": "help", "phone": caller, "call_uniqueid": uniqueid,
        "description": "来电在排队中按1保留位置，轮到时系统回电"}, actor="keep-place")
    # A second ahead: a promise is always in the future; the agent is rung at once anyway.
    return promise(session, ticket.id, now + dt.timedelta(seconds=1), owner_code=agent_code,
                   actor="keep-place", timezone=timezone)


__all__ += ["kept_place_promise"]
