# -*- test-case-name: tests.web.test_bridge_api -*-
"""A three-way bridge room as the desk shows it, and which call and room are an agent's own.

``room_view`` is the one serialisation of a room: ``GET /api/bridge`` returns it and the event
stream pushes it as ``bridge`` (wazo-calld's rule: a pushed payload equals the fetched one). It
reads the bridge service's live ``Room`` (hotline/bridge/rooms.py) and never changes it.

An agent may act only on their own current call: the live call whose agent is their seat's
interface, talking or ringing, and not one whose room they already left (that call goes on
without them, and their seat may be taking the next one).
"""

from __future__ import annotations

from typing import Any

from hotline.bridge.outcomes import FAILURES, REASON_TEXT
from hotline.naming import agent_interface as interface_of

__all__ = ["room_view", "current_call", "room_for", "agent_left", "ROLE_TEXT", "STATE_TEXT"]

ROLE_TEXT = {"citizen": "市民", "agent": "坐席", "department": "部门"}
#: A participant's state as the panel words it (failures use REASON_TEXT: 无人接听, 对方忙 ...).
STATE_TEXT = {"waiting": "等待加入", "joined": "在通话中", "left": "已离开",
              "dialling": "正在呼叫", "ringing": "振铃中", "dropped": "已挂断",
              "ended": "通话已结束"}


def agent_left(room: Any) -> bool:
    """The agent was in the room and is not any more (left, or kicked by ``leave``)."""
    return "agent" in room.joined_as and "agent" not in room.members.values()


def _party(role: str, room: Any, members: set[str]) -> dict[str, Any]:
    if role in members:
        state = "joined"
    elif role in room.joined_as:
        state = "left"
    else:
        state = "ended" if room.ended else "waiting"
    return {"role": role, "label": ROLE_TEXT[role], "state": state,
            "state_text": STATE_TEXT[state]}


def _leg(leg: Any, room: Any) -> dict[str, Any]:
    outcome = None
    if leg.uniqueid in room.members:
        state = "joined"
    elif leg.joined:
        state = "dropped" if leg.dropped else "left"
    elif leg.outcome is not None:
        state, outcome = "failed", leg.outcome
    elif room.ended:
        state = "ended"
    elif leg.rang:
        state = "ringing"
    else:
        state = "dialling"
    text = REASON_TEXT.get(outcome or "", outcome or "") if state == "failed" \
        else STATE_TEXT[state]
    return {"role": "department", "label": ROLE_TEXT["department"], "number": leg.number,
            "state": state, "state_text": text, "outcome": outcome}


def _leg_active(leg: Any, room: Any) -> bool:
    """Ringing, or in the room: a department the agent could still drop."""
    if leg is None or room.ended:
        return False
    if leg.uniqueid in room.members:
        return True
    return not leg.joined and leg.outcome is None


def room_view(room: Any) -> dict[str, Any]:
    """The room as JSON-ready data: who is in it, each department number tried and how it
    went, the last failure in Chinese, and which of the desk's buttons apply now."""
    members = set(room.members.values())
    leg = room.leg
    active = _leg_active(leg, room)
    failed = [x for x in room.legs if x.outcome in FAILURES and not x.joined]
    failure = None
    if failed and not (leg is not None and leg.joined) and not room.ended:
        # The last number that failed, until another one answers; ``next`` is the number
        # dialled after it (the service's automatic fallback), if one rings now.
        last = failed[-1]
        failure = {"outcome": last.outcome, "number": last.number,
                   "text": f"{room.entry_name} {last.number} "
                           f"{REASON_TEXT.get(last.outcome, last.outcome)}",
                   "next": leg.number if leg is not last and active else None}
    left = [] if room.ended else room.numbers_left()
    agent_in = "agent" in members and not room.ended
    return {
        "room": room.name,
        "version": room.version,
        "call_id": room.call_id,
        "call_uniqueid": room.call_uniqueid,
        "agent": room.agent_code,
        "entry": {"id": room.entry_id, "name": room.entry_name},
        "participants": [_party("citizen", room, members), _party("agent", room, members),
                         *[_leg(x, room) for x in room.legs]],
        "outcome": room.outcome,
        "outcome_text": REASON_TEXT.get(room.outcome or "", None),
        "failure": failure,
        "numbers_left": left,
        "agent_left": agent_left(room),
        "ended": bool(room.ended),
        # The desk's buttons; the service still decides (and refuses with a reason).
        "can_leave": agent_in and "department" in members,
        "can_drop": agent_in and active,
        "can_fallback": agent_in and not active and bool(left),
    }


def current_call(calls: Any, bridge: Any, agent_code: str) -> dict[str, Any] | None:
    """The agent's own current call (the live view's dict), or None.

    Their seat's interface is the call's agent, it rings or talks, and if it is in a bridge
    room the agent has not left that room. The newest such call wins.
    """
    interface = interface_of(agent_code)
    mine = []
    for call in calls.live_calls():
        agent = call.get("agent") or {}
        if agent.get("interface") != interface or call.get("state") not in ("ringing",
                                                                             "talking"):
            continue
        room = bridge.room_of(call["uniqueid"]) if bridge is not None else None
        if room is not None and agent_left(room):
            continue
        mine.append(call)
    return max(mine, key=lambda c: c.get("started") or 0.0) if mine else None


def room_for(bridge: Any, calls: Any, agent_code: str) -> Any:
    """The room the agent's desk shows: their current call's, else the newest live room they
    bridged (and may have left: it goes on without them). None without either."""
    call = current_call(calls, bridge, agent_code) if calls is not None else None
    if call is not None:
        room = bridge.room_of(call["uniqueid"])
        if room is not None:
            return room
    mine = [r for r in bridge.rooms() if r.agent_code == agent_code]
    return mine[-1] if mine else None
