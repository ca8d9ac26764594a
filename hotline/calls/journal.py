# -*- test-case-name: tests.test_controller -*-
"""The call's row in the database: opened by the inbound script, finalised after hangup.

Every function takes a session (the caller owns the transaction) and is idempotent on the
Asterisk uniqueid, so the same call reported twice (by the script and again by AMI events, or
by a reconciliation after a restart) is one row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Float, String, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from db.models import Agent, Call, CallRecording, CallStatus
from db.prepared import Cursor, Prepared, cursor_for
from db.session import INSERT_BY_DIALECT
from hotline import phone
from hotline.tickets.schemas import IntakeRequest, TicketKind
from hotline.tickets.service import (
    CallerInfo,
    TicketService,
    citizen_id_for,
    lookup_caller,
)

__all__ = ["InboundCall", "open_inbound_call", "finalise_call", "FinalRow",
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


def open_inbound_call(unit: Session | Cursor, *, uniqueid: str, linkedid: str,
                      caller_number: str, now: dt.datetime) -> InboundCall:
    """Look the caller up and write the call row (once per uniqueid).

    Every call runs this while its caller waits for the queue, so it is prepared statements
    (L{db.prepared}), best in a unit of its own (``Database.run_direct``): nothing here needs
    an ORM object."""
    cursor = cursor_for(unit)
    info = lookup_caller(cursor, caller_number, now=now)
    citizen_id = info.citizen_id
    if citizen_id is None and info.phone:
        # A first-time caller becomes a citizen now, so the ticket the agent opens and every
        # later call find the same person.
        citizen_id = citizen_id_for(cursor, info.phone)
    # Inserted first, looked for only if the uniqueid already has its row (the script run
    # twice for one call): one statement for nearly every call.
    call_id = cursor.scalar(
        _NEW_INBOUND_CALL[cursor.dialect.name], new_uniqueid=uniqueid,
        new_linkedid=linkedid or uniqueid, new_caller=info.phone or _raw_number(caller_number),
        new_citizen=citizen_id, new_started=now)
    if call_id is None:
        existing = cursor.scalar(_CALL_ID, uniqueid=uniqueid)
        return InboundCall(call_id=existing, caller=info, created=False)
    return InboundCall(call_id=call_id, caller=info, created=True)


_CALL_ID = Prepared(select(Call.id).where(Call.uniqueid == bindparam("uniqueid")))
_NEW_INBOUND_CALL = {
    name: Prepared(insert_(Call).values(
        uniqueid=bindparam("new_uniqueid"), linkedid=bindparam("new_linkedid"),
        direction="inbound", caller_number=bindparam("new_caller"),
        citizen_id=bindparam("new_citizen"), started_at=bindparam("new_started"),
        status=CallStatus.QUEUED).on_conflict_do_nothing(index_elements=["uniqueid"])
        .returning(Call.id))
    for name, insert_ in INSERT_BY_DIALECT.items()}


def _raw_number(number: str) -> str | None:
    """A caller id we could not normalise is still kept (trimmed) for the record."""
    number = (number or "").strip()[:20]
    return number or None


@dataclass(frozen=True)
class FinalRow:
    """The call's row as its final unit of work leaves it: what the follow-up steps read
    (L{hotline.calls.finaliser.FinalStep}), without an ORM object for every call."""

    id: int
    uniqueid: str
    status: str
    ticket_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    answered_at: dt.datetime | None
    #: The directions of the call's recordings on file (C{citizen}, C{agent}, C{mix}).
    directions: frozenset[str]
    #: True if the row was already final: this report changed nothing.
    already_final: bool = False


_FINAL_COLUMNS = (Call.id, Call.status, Call.ticket_id, Call.started_at, Call.ended_at,
                  Call.answered_at, Call.caller_number, Call.citizen_id)
_RECORDING_DIRECTIONS = Prepared(select(CallRecording.direction).where(
    CallRecording.call_id == bindparam("call_id")))
_FINAL_ROW = Prepared(select(*_FINAL_COLUMNS).where(Call.uniqueid == bindparam("uniqueid")))
_ANSWERED_AT = func.coalesce(bindparam("f_answered_at", type_=Call.answered_at.type),
                             Call.answered_at)
#: The final UPDATE: only a row not yet final; what the report does not know (no answer, no
#: wait, no agent) keeps what the row has; the status follows whether anyone answered.
_FINAL = Prepared(update(Call).where(Call.uniqueid == bindparam("f_uniqueid"),
                                     Call.ended_at.is_(None)).values(
    ended_at=bindparam("f_ended_at"), talk_s=bindparam("f_talk_s"),
    hangup_cause=bindparam("f_cause"), hungup_by=bindparam("f_hungup_by"),
    answered_at=_ANSWERED_AT,
    queue_wait_s=func.coalesce(bindparam("f_wait_s", type_=Float), Call.queue_wait_s),
    agent_id=case((bindparam("f_agent_code", type_=String).is_(None), Call.agent_id),
                  else_=select(Agent.id).where(Agent.code == bindparam("f_agent_code"))
                  .limit(1).scalar_subquery()),
    status=case((_ANSWERED_AT.is_not(None), CallStatus.COMPLETED),
                else_=CallStatus.ABANDONED),
).returning(*_FINAL_COLUMNS))


def finalise_call(session: Session, *, uniqueid: str, linkedid: str, caller_number: str,
                  started_at: dt.datetime, ended_at: dt.datetime,
                  answered_at: dt.datetime | None, queue_wait_s: float | None,
                  talk_s: float | None, agent_code: str | None, hangup_cause: int | None,
                  hungup_by: str | None, recordings: list[RecordingFile]) -> FinalRow:
    """Write what is known once the call is over; creates the row if the script never ran.

    The row's status says how it ended: completed (an agent talked to the citizen) or
    abandoned (the citizen gave up waiting). One conditional UPDATE (only a row not yet
    final) does it, in Core statements: this runs for every call (bench.burst), and a second
    report of the same call matches nothing and changes nothing.
    """
    # Prepared statements (db.prepared) in the session's transaction: no identity map to
    # synchronise, none of SQLAlchemy's per-execution work.
    cursor = cursor_for(session)
    params = {"f_uniqueid": uniqueid, "f_ended_at": ended_at, "f_talk_s": talk_s,
              "f_cause": hangup_cause, "f_hungup_by": hungup_by, "f_answered_at": answered_at,
              "f_wait_s": queue_wait_s, "f_agent_code": agent_code or None}
    found = cursor.first(_FINAL, **params)
    if found is None:
        existing = cursor.first(_FINAL_ROW, uniqueid=uniqueid)
        if existing is not None:  # already final: a second report changes nothing
            return _final_row(cursor, uniqueid, _Final(*existing), already_final=True)
        _insert_unseen(session, uniqueid=uniqueid, linkedid=linkedid,
                       caller_number=caller_number, started_at=started_at)
        found = cursor.first(_FINAL, **params)
        if found is None:  # only if another unit deleted the row it just wrote
            raise LookupError(f"call {uniqueid}: its row is gone before it could be finalised")
    row = _Final(*found)
    ticket_id = row.ticket_id
    if row.answered_at is not None and ticket_id is None:
        # Every answered call leaves a ticket: the agent normally files one from the console
        # during the call (linked by uniqueid); if not, one is opened here to be completed.
        opened = TicketService().intake(session, IntakeRequest(
            channel="hotline", kind=TicketKind.CONSULTATION, description=UNFILED_CALL_NOTE,
            phone=row.caller_number if row.citizen_id else None,
            call_uniqueid=uniqueid), actor="system")
        # On the list of the agent who took the call until they complete it (hotline.tickets).
        opened.needs_completion = True
        ticket_id = opened.id
    directions: frozenset[str] = frozenset()
    if recordings:
        known = {r[0] for r in cursor.all(_RECORDING_DIRECTIONS, call_id=row.id)}
        new = [{"call_id": row.id, "direction": rec.direction, "path": rec.path,
                "size_bytes": rec.size_bytes}
               for rec in recordings if rec.direction not in known]
        if new:
            session.connection().execute(insert(CallRecording), new)
        directions = frozenset(known | {rec.direction for rec in recordings})
    session.flush()
    return FinalRow(id=row.id, uniqueid=uniqueid, status=row.status, ticket_id=ticket_id,
                    started_at=row.started_at, ended_at=row.ended_at,
                    answered_at=row.answered_at, directions=directions)


class _Final(NamedTuple):
    """A row of L{_FINAL_COLUMNS}."""

    id: int
    status: str
    ticket_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    answered_at: dt.datetime | None
    caller_number: str | None
    citizen_id: int | None


def _final_row(cursor: Cursor, uniqueid: str, row: _Final, *,
               already_final: bool) -> FinalRow:
    directions = frozenset(r[0] for r in cursor.all(_RECORDING_DIRECTIONS, call_id=row.id))
    return FinalRow(id=row.id, uniqueid=uniqueid, status=row.status, ticket_id=row.ticket_id,
                    started_at=row.started_at, ended_at=row.ended_at,
                    answered_at=row.answered_at, directions=directions,
                    already_final=already_final)


def _insert_unseen(session: Session, *, uniqueid: str, linkedid: str, caller_number: str,
                   started_at: dt.datetime) -> None:
    """The row of a call the inbound script never reported (the controller was down, or the
    script failed): the caller becomes a citizen as at the script."""
    try:
        number: str | None = phone.normalise(caller_number)
    except phone.InvalidPhoneNumber:
        number = None
    citizen_id = citizen_id_for(session, number) if number else None
    session.connection().execute(insert(Call).values(
        uniqueid=uniqueid, linkedid=linkedid or uniqueid, direction="inbound",
        caller_number=number or _raw_number(caller_number), citizen_id=citizen_id,
        started_at=started_at, status=CallStatus.QUEUED))
