# -*- test-case-name: tests.bridge.test_integration -*-
"""The bridge's rows: the room on the call, who joined and left when, and the ticket's event.

Every function takes a session (the caller owns the transaction). A bridge is written on the
ticket once: when the room ends if the call already has its ticket, else when the call's final
row is committed (the finaliser opens the ticket of a call nobody filed one for).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from db.models import Bridge, BridgeParticipant, Call, TicketEvent, utcnow
from db.prepared import Prepared, cursor_for
from hotline import phone
from hotline.bridge.outcomes import REASON_TEXT

__all__ = ["open_bridge", "add_department", "joined", "left", "department_ended",
           "end_bridge", "note_on_ticket", "note_call_bridges", "BRIDGE_EVENT"]

#: The TicketEvent action of a three-way bridge (三方通话).
BRIDGE_EVENT = "bridge"


def open_bridge(session: Session, *, call_id: int, hotline_id: int | None, room: str,
                started_at: dt.datetime, agent_code: str | None, citizen_channel: str,
                agent_channel: str, entry_name: str | None = None) -> tuple[int, dict[str, int]]:
    """The bridge row and its citizen and agent participants; returns their ids."""
    call = session.get(Call, call_id)
    if call is None:
        raise ValueError(f"no call row {call_id}")
    bridge = Bridge(call_id=call_id, hotline_id=hotline_id, room=room, started_at=started_at,
                    agent_code=agent_code, entry_name=entry_name)
    citizen = BridgeParticipant(bridge=bridge, role="citizen", channel=citizen_channel)
    agent = BridgeParticipant(bridge=bridge, role="agent", channel=agent_channel)
    session.add_all([bridge, citizen, agent])
    session.flush()
    return bridge.id, {"citizen": citizen.id, "agent": agent.id}


def add_department(session: Session, bridge_id: int, *, number: str,
                   channel: str | None) -> int:
    """A department number dialled for the room; its outcome comes later."""
    row = BridgeParticipant(bridge_id=bridge_id, role="department", channel=channel,
                            number_dialled=number)
    session.add(row)
    session.flush()
    return row.id


def joined(session: Session, participant_id: int, at: dt.datetime,
           channel: str | None = None) -> None:
    row = session.get(BridgeParticipant, participant_id)
    if row is not None and row.joined_at is None:
        row.joined_at = at
        if channel:
            row.channel = channel
        if row.role == "department":
            row.outcome = "answered"


def left(session: Session, participant_id: int, at: dt.datetime) -> None:
    row = session.get(BridgeParticipant, participant_id)
    if row is not None and row.left_at is None:
        row.left_at = at
        if row.outcome is None or row.outcome == "answered" and row.role != "department":
            row.outcome = "left"


def department_ended(session: Session, participant_id: int, *, outcome: str,
                     at: dt.datetime) -> None:
    """A department leg that never joined: no answer, busy, congestion, unreachable."""
    row = session.get(BridgeParticipant, participant_id)
    if row is not None and row.joined_at is None:
        row.outcome = outcome
        row.left_at = at


def end_bridge(session: Session, bridge_id: int, *, at: dt.datetime, outcome: str | None,
               recording_path: str | None) -> None:
    """The room is over: end time, outcome, and anyone still marked present has left."""
    bridge = session.get(Bridge, bridge_id)
    if bridge is None:
        return
    if bridge.ended_at is None:
        bridge.ended_at = at
    bridge.outcome = bridge.outcome or outcome
    bridge.recording_path = bridge.recording_path or recording_path
    for p in bridge.participants:
        if p.joined_at is not None and p.left_at is None:
            p.left_at = at
            if p.role != "department":
                p.outcome = p.outcome or "left"


def set_outcome(session: Session, bridge_id: int, outcome: str) -> None:
    bridge = session.get(Bridge, bridge_id)
    if bridge is not None and bridge.outcome != "answered":
        bridge.outcome = outcome


def _describe(bridge: Bridge, zone: zoneinfo.ZoneInfo) -> str:
    def hm(t: dt.datetime | None) -> str:
        return t.astimezone(zone).strftime("%H:%M:%S") if t else "-"

    name = bridge.entry_name or (bridge.hotline.name if bridge.hotline is not None else "?")
    lines = [f"三方通话 {name}（房间 {bridge.room}，坐席 {bridge.agent_code or '?'}）："
             f"{REASON_TEXT.get(bridge.outcome or '', bridge.outcome or '未完成')}"]
    for p in sorted(bridge.participants, key=lambda p: p.id):
        who = {"citizen": "市民", "agent": "坐席", "department": "部门"}[p.role]
        if p.number_dialled:
            who += f" {phone.mask(p.number_dialled)}"
        outcome = REASON_TEXT.get(p.outcome or "", p.outcome or "")
        lines.append(f"- {who}: {outcome} 加入 {hm(p.joined_at)} 离开 {hm(p.left_at)}")
    return "\n".join(lines)


def note_on_ticket(session: Session, bridge_id: int, *, zone: str = "Asia/Shanghai") -> bool:
    """Write the bridge on its call's ticket once; False while the call has no ticket yet."""
    bridge = session.get(Bridge, bridge_id)
    if bridge is None or bridge.ticket_id is not None:
        return False
    call = bridge.call
    if call.ticket_id is None:
        return False
    bridge.ticket_id = call.ticket_id
    session.add(TicketEvent(ticket_id=call.ticket_id, at=bridge.ended_at or utcnow(),
                            actor=f"agent {bridge.agent_code}" if bridge.agent_code else "system",
                            action=BRIDGE_EVENT, text=_describe(bridge, zoneinfo.ZoneInfo(zone))))
    return True


def note_call_bridges(session: Session, call_id: int, *, zone: str = "Asia/Shanghai") -> int:
    """Write every ended bridge of a call on its ticket, each in a savepoint of its own (the
    finaliser runs this unguarded in the call's final unit: a note that fails loses neither
    the call's row nor the other notes); returns how many were written."""
    # Prepared (db.prepared): this is every call's final unit of work, and most calls were
    # never bridged.
    ids = [r[0] for r in cursor_for(session).all(_ENDED_BRIDGES, call_id=call_id)]
    written = 0
    for bridge_id in ids:
        with session.begin_nested():
            written += note_on_ticket(session, bridge_id, zone=zone)
    return written


_ENDED_BRIDGES = Prepared(select(Bridge.id).where(Bridge.call_id == bindparam("call_id"),
                                                  Bridge.ended_at.is_not(None)))
