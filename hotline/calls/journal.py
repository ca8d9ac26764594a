# -*- test-case-name: tests.test_controller -*-
"""The call's row in the database: opened by the inbound script, finalised after hangup.

Every function takes a session (the caller owns the transaction) and is idempotent on the
Asterisk uniqueid, so the same call reported twice (by the script and again by AMI events, or
by a reconciliation after a restart) is one row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import Agent, Call, CallRecording, CallStatus
from hotline import phone
from hotline.tickets.schemas import IntakeRequest, TicketKind
from hotline.tickets.service import (
    CallerInfo,
    TicketService,
    citizen_id_for,
    get_or_create_citizen,
    lookup_caller,
)

__all__ = ["InboundCall", "open_inbound_call", "mark_answered", "finalise_call",
           "RecordingFile", "UNFILED_CALL_NOTE"]

#: The description of the ticket opened for an answered call the agent filed nothing for; the
#: transcript and the agent's notes are added to it later.
UNFILED_CALL_NOTE = "热线来电（坐席通话中未建单，系统自动登记；详情见通话录音与转写）"


@dataclass(frozen=True)
class InboundCall:
    """What the inbound script tells the dialplan, read in the same unit of work as the row."""

    call_id: int
    caller: CallerInfo
    created: bool


@dataclass(frozen=True)
class RecordingFile:
    """One recording file of a call, as found on disk after hangup."""

    direction: str
    path: str
    size_bytes: int | None


def _call_by_uniqueid(session: Session, uniqueid: str) -> Call | None:
    return session.scalars(select(Call).where(Call.uniqueid == uniqueid)).first()


def open_inbound_call(session: Session, *, uniqueid: str, linkedid: str, caller_number: str,
                      now: dt.datetime) -> InboundCall:
    """Look the caller up and write the call row (once per uniqueid)."""
    info = lookup_caller(session, caller_number, now=now)
    # Core statements, not ORM objects: this runs for every call, and nothing here needs an
    # object (the per-call CPU of bench.burst).
    existing = session.execute(select(Call.id).where(Call.uniqueid == uniqueid)).scalar()
    if existing is not None:
        return InboundCall(call_id=existing, caller=info, created=False)
    citizen_id = info.citizen_id
    if citizen_id is None and info.phone:
        # A first-time caller becomes a citizen now, so the ticket the agent opens and every
        # later call find the same person.
        citizen_id = citizen_id_for(session, info.phone)
    call_id = session.execute(insert(Call).values(
        uniqueid=uniqueid, linkedid=linkedid or uniqueid, direction="inbound",
        caller_number=info.phone or _raw_number(caller_number), citizen_id=citizen_id,
        started_at=now, status=CallStatus.QUEUED).returning(Call.id)).scalar_one()
    return InboundCall(call_id=call_id, caller=info, created=True)


def _raw_number(number: str) -> str | None:
    """A caller id we could not normalise is still kept (trimmed) for the record."""
    number = (number or "").strip()[:20]
    return number or None


def _agent_id(session: Session, agent_code: str | None) -> int | None:
    if not agent_code:
        return None
    return session.scalars(select(Agent.id).where(Agent.code == agent_code)).first()


def mark_answered(session: Session, *, uniqueid: str, answered_at: dt.datetime,
                  queue_wait_s: float | None, agent_code: str | None) -> Call | None:
    """An agent took the call; returns the row, or None if no row exists for it."""
    call = _call_by_uniqueid(session, uniqueid)
    if call is None:
        return None
    call.answered_at = answered_at
    call.queue_wait_s = queue_wait_s
    call.agent_id = _agent_id(session, agent_code)
    call.status = CallStatus.ANSWERED
    return call


def finalise_call(session: Session, *, uniqueid: str, linkedid: str, caller_number: str,
                  started_at: dt.datetime, ended_at: dt.datetime,
                  answered_at: dt.datetime | None, queue_wait_s: float | None,
                  talk_s: float | None, agent_code: str | None, hangup_cause: int | None,
                  hungup_by: str | None, recordings: list[RecordingFile]) -> Call:
    """Write what is known once the call is over; creates the row if the script never ran.

    The row's status says how it ended: completed (an agent talked to the citizen) or
    abandoned (the citizen gave up waiting).
    """
    call = _call_by_uniqueid(session, uniqueid)
    if call is None:
        try:
            number = phone.normalise(caller_number)
        except phone.InvalidPhoneNumber:
            number = None
        citizen_id = get_or_create_citizen(session, number, None).id if number else None
        call = Call(uniqueid=uniqueid, linkedid=linkedid or uniqueid, direction="inbound",
                    caller_number=number or _raw_number(caller_number), citizen_id=citizen_id,
                    started_at=started_at, status=CallStatus.QUEUED)
        session.add(call)
    if call.ended_at is not None:
        return call  # already final: a second report changes nothing
    if answered_at is not None:
        call.answered_at = answered_at
    if queue_wait_s is not None:
        call.queue_wait_s = queue_wait_s
    if agent_code:
        call.agent_id = _agent_id(session, agent_code)
    call.ended_at = ended_at
    call.talk_s = talk_s
    call.hangup_cause = hangup_cause
    call.hungup_by = hungup_by
    call.status = CallStatus.COMPLETED if call.answered_at is not None else CallStatus.ABANDONED
    if call.answered_at is not None and call.ticket_id is None:
        # Every answered call leaves a ticket: the agent normally files one from the console
        # during the call (linked by uniqueid); if not, one is opened here to be completed.
        opened = TicketService().intake(session, IntakeRequest(
            channel="hotline", kind=TicketKind.CONSULTATION, description=UNFILED_CALL_NOTE,
            phone=call.caller_number if call.citizen_id else None,
            call_uniqueid=call.uniqueid), actor="system")
        # On the list of the agent who took the call until they complete it (hotline.tickets).
        opened.needs_completion = True
    known = {r.direction for r in call.recordings}
    for rec in recordings:
        if rec.direction not in known:
            session.add(CallRecording(call=call, direction=rec.direction, path=rec.path,
                                      size_bytes=rec.size_bytes))
    session.flush()
    return call
