# -*- test-case-name: tests.calls.test_tracker -*-
"""What the live view holds (a call, an agent) and the one serialisation shared by queries and pushes.

L{call_to_dict} and L{agent_to_dict} are the schema: L{hotline.calls.service} returns them and
L{hotline.calls.notifier} pushes them, so a pushed payload equals the fetched one. They hold
absolute timestamps (the tracker clock's seconds), never "seconds ago", for the same reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallState", "AgentState", "Call", "Agent", "call_to_dict", "agent_to_dict",
           "agent_state_from_member", "WRAPUP_REASON"]

#: The queue pause reason that marks after-call work (话后整理): the controller pauses an agent
#: with it when a call ends (L{hotline.floor.wrapup}), and the view shows the agent 整理中.
WRAPUP_REASON = "wrapup"


class CallState(enum.StrEnum):
    """Where a citizen's call is."""

    ARRIVING = "arriving"  # in the dialplan (lookup, greeting), not yet queued
    WAITING = "waiting"    # in the queue, no agent ringing
    RINGING = "ringing"    # an agent's phone rings for it
    TALKING = "talking"    # bridged with an agent
    ENDED = "ended"        # hung up; kept for a short linger, then dropped


class AgentState(enum.StrEnum):
    """What a queue member is doing."""

    FREE = "free"
    RINGING = "ringing"
    TALKING = "talking"
    PAUSED = "paused"
    WRAPUP = "wrapup"            # after-call work (整理中): paused by the controller for a while
    UNAVAILABLE = "unavailable"  # logged in, but the phone is unregistered or unreachable
    LOGGED_OUT = "logged_out"


@dataclass
class Call:
    """
    One citizen's call, keyed by the citizen channel's C{Uniqueid}.

    @ivar since: clock seconds when the call entered its current C{state}.
    @ivar queued_since: clock seconds when it joined the queue (its wait runs from there).
    @ivar started: clock seconds when we first saw the call (or its channel's start, on resync).
    @ivar hung_up_by: C{"caller"}, C{"agent"}, C{"transfer"} or None (unknown / not yet).
    """

    uniqueid: str
    channel: str
    linkedid: str
    caller: str | None = None
    state: CallState = CallState.ARRIVING
    since: float = 0.0
    started: float = 0.0
    queue: str | None = None
    position: int | None = None
    queued_since: float | None = None
    agent_interface: str | None = None
    agent_name: str | None = None
    agent_channel: str | None = None
    agent_uniqueid: str | None = None
    hotline_call_id: str | None = None
    repeat_caller: bool = False
    open_tickets: int | None = None
    hold_time: int | None = None
    talk_time: int | None = None
    abandoned: bool = False
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    hung_up_by: str | None = None

    def move(self, state: CallState, now: float) -> bool:
        """Enter C{state} at C{now}; C{since} changes only when the state does. Return whether it did."""
        if self.state == state:
            return False
        self.state = state
        self.since = now
        return True


@dataclass
class Agent:
    """
    One queue member, keyed by its C{Interface} (C{PJSIP/agent-1001}).

    @ivar queues: the queues it is a member of (empty once logged out everywhere).
    @ivar status: the last Asterisk device state number (C{Status} header), if known.
    """

    interface: str
    name: str | None = None
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    queues: list[str] = field(default_factory=list)
    paused: bool = False
    paused_reason: str | None = None
    status: int | None = None
    in_call: bool = False
    calls_taken: int = 0
    call_uniqueid: str | None = None

    def move(self, state: AgentState, now: float) -> bool:
        """Enter C{state} at C{now}; C{since} changes only when the state does. Return whether it did."""
        if self.state == state:
            return False
        self.state = state
        self.since = now
        return True


def call_to_dict(call: Call) -> dict[str, Any]:
    """A call as plain JSON-ready data: the one shape for queries and pushed updates."""
    return {
        "uniqueid": call.uniqueid,
        "linkedid": call.linkedid,
        "channel": call.channel,
        "caller": call.caller,
        "state": call.state.value,
        "since": call.since,
        "started": call.started,
        "queue": call.queue,
        "position": call.position,
        "queued_since": call.queued_since,
        "agent": None if call.agent_interface is None else {
            "interface": call.agent_interface,
            "name": call.agent_name,
            "channel": call.agent_channel,
            "uniqueid": call.agent_uniqueid,
        },
        "hotline_call_id": call.hotline_call_id,
        "repeat_caller": call.repeat_caller,
        "open_tickets": call.open_tickets,
        "hold_time": call.hold_time,
        "talk_time": call.talk_time,
        "abandoned": call.abandoned,
        "hangup_cause": call.hangup_cause,
        "hangup_cause_txt": call.hangup_cause_txt,
        "hung_up_by": call.hung_up_by,
    }


def agent_to_dict(agent: Agent) -> dict[str, Any]:
    """An agent as plain JSON-ready data: the one shape for queries and pushed updates."""
    return {
        "interface": agent.interface,
        "name": agent.name,
        "state": agent.state.value,
        "since": agent.since,
        "queues": list(agent.queues),
        "paused": agent.paused,
        "paused_reason": agent.paused_reason,
        "status": agent.status,
        "in_call": agent.in_call,
        "calls_taken": agent.calls_taken,
        "call_uniqueid": agent.call_uniqueid,
    }


# Asterisk's enum ast_device_state, as the QueueMember* events' "Status" header carries it.
_DEVICE_FREE = {0, 1}          # UNKNOWN, NOT_INUSE
_DEVICE_BUSY = {2, 3, 7, 8}    # INUSE, BUSY, RINGINUSE, ONHOLD
_DEVICE_RINGING = {6}          # RINGING
_DEVICE_GONE = {4, 5}          # INVALID, UNAVAILABLE


def agent_state_from_member(*, paused: bool, status: int | None, in_call: bool,
                            reason: str | None = None) -> AgentState:
    """
    The agent state a QueueMember* event or QueueStatus entry describes.

    Pause wins (a paused agent on a call is still paused for the queue), and a pause for
    after-call work (C{reason} L{WRAPUP_REASON}) is wrap-up; then the call flag and the
    device state number.

    >>> agent_state_from_member(paused=False, status=1, in_call=False).value
    'free'
    >>> agent_state_from_member(paused=True, status=2, in_call=True).value
    'paused'
    >>> agent_state_from_member(paused=False, status=6, in_call=False).value
    'ringing'
    >>> agent_state_from_member(paused=True, status=1, in_call=False, reason="wrapup").value
    'wrapup'
    """
    if paused:
        return AgentState.WRAPUP if reason == WRAPUP_REASON else AgentState.PAUSED
    if in_call or status in _DEVICE_BUSY:
        return AgentState.TALKING
    if status in _DEVICE_RINGING:
        return AgentState.RINGING
    if status in _DEVICE_GONE:
        return AgentState.UNAVAILABLE
    return AgentState.FREE
