# -*- test-case-name: tests.calls.test_tracker -*-
"""The calls' domain events: what L{hotline.calls.tracker.CallTracker} publishes on the
controller's L{hotline.bus.EventBus}, the only AMI-driven news of calls, legs, agents and rooms.

Consumers subscribe to a class (or to a base class: L{LegEvent}, L{ViewChanged}) and never to
AMI: the finaliser (L{CallArrived}, L{CallRecording}, L{CallQueued}, L{CallAnswered},
L{CallEnded}), the bridge service (L{LegRinging}, L{LegAnswered}, L{OriginateResult},
L{RoomChanged}, L{LegEnded}, L{RecordingStarted}), the scheduler's placing
(L{OriginateResult}, L{CallbackProgress}, L{SurveyAnswered}, L{LegEnded}), the console's
streams and the wallboard (L{ViewChanged}). Times are epoch seconds: the AMI event's
C{Timestamp} when Asterisk sent one, else the tracker clock's.

Events are frozen: a consumer cannot change what the next one sees.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["LegKind", "LegEvent", "CallArrived", "CallRecording", "CallQueued", "CallRinging",
           "CallAnswered", "CallEnded", "LegRinging", "LegAnswered", "LegEnded",
           "OriginateResult", "RecordingStarted", "CallbackProgress", "SurveyAnswered",
           "ReminderAnswered",
           "RoomChanged", "RoomChange", "ViewChanged", "CallUpdated", "CallRemoved",
           "AgentStateChanged", "AgentRemoved", "ViewResynced", "CallFinalised",
           "AgentCallCompleted", "KeepPlaceProgress"]


class LegKind(enum.StrEnum):
    """What a channel is to the hotline (L{hotline.calls.tracker.Leg.kind})."""

    INBOUND = "inbound"        # a citizen calling 83658365 (entered the inbound context)
    AGENT = "agent"            # an agent's phone rung by the queue for an inbound call
    CALLBACK = "callback"      # a callback attempt's agent leg (ChannelId cb-<id>-<n>)
    SURVEY = "survey"          # a satisfaction survey call to a citizen (sv-<id>-<n>)
    REMINDER = "reminder"      # a deadline reminder call to a department's duty number (rm-..)
    DEPARTMENT = "department"  # a municipal hotline dialled into a bridge room (hb..-dN)
    SUPERVISOR = "supervisor"  # a supervisor's phone listening to a call (ChanSpy, sp-...)
    OTHER = "other"            # anything else (Local channels, announcers, the trunk's far end)


@dataclass(frozen=True, slots=True)
class LegEvent:
    """Something happened to one channel (C{uniqueid}) of kind C{kind}, at C{at}."""

    uniqueid: str
    kind: LegKind
    at: float


# -- a citizen's inbound call --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CallArrived(LegEvent):
    """A citizen's channel entered the hotline's inbound dialplan."""

    linkedid: str
    caller: str
    channel: str


@dataclass(frozen=True, slots=True)
class CallRecording(LegEvent):
    """The dialplan started recording the call: C{path} is the files' common prefix."""

    path: str


@dataclass(frozen=True, slots=True)
class CallQueued(LegEvent):
    """The call joined queue C{queue} at C{position}."""

    queue: str
    position: int | None


@dataclass(frozen=True, slots=True)
class CallRinging(LegEvent):
    """The queue rings an agent (C{agent_interface}) for the call."""

    agent_interface: str | None
    agent_code: str | None


@dataclass(frozen=True, slots=True)
class CallAnswered(LegEvent):
    """An agent took the call after C{hold_time} seconds in the queue."""

    agent_interface: str | None
    agent_code: str | None
    agent_channel: str | None
    hold_time: int | None


@dataclass(frozen=True, slots=True)
class CallEnded(LegEvent):
    """The citizen's channel hung up.

    @ivar complete_reason: the queue's C{AgentComplete} reason if it came first (C{caller},
        C{agent}, C{transfer}), else None.
    """

    linkedid: str
    caller: str
    cause: int | None
    cause_txt: str | None
    complete_reason: str | None


@dataclass(frozen=True, slots=True)
class AgentCallCompleted(LegEvent):
    """The queue's call (C{uniqueid}, the citizen's) with agent C{agent_interface} is over for
    the agent (C{AgentComplete}: either side hung up, or the agent left a bridge room): the
    moment after-call work starts.

    @ivar node: the node whose PBX held the call when another node's view passed the event on
        (L{hotline.cluster.peers.PeerView}); None for this controller's own PBX.
    """

    agent_interface: str
    agent_code: str | None
    reason: str | None
    talk_time: int | None
    node: int | None = None


@dataclass(frozen=True, slots=True)
class KeepPlaceProgress(LegEvent):
    """The keep-my-place dialplan reported a stage of kept place C{key} (the citizen's
    channel's uniqueid): C{kept} (they pressed 1: C{caller}, C{joined_at}, C{position},
    C{queue}), C{turn} (an agent took its stand-in), C{handover} (its dialplan waits for the
    controller's scheduler to call it back), C{citizen} (the citizen answered the
    call back), C{end} (with C{dial_status})."""

    key: str
    stage: str
    caller: str
    joined_at: float | None
    position: int | None
    queue: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class CallFinalised:
    """The call's final row (C{call_id}) and its recordings are committed: follow-up work
    (transcription, the bridges noted on the ticket) starts from here, never from AMI."""

    call_id: int
    uniqueid: str


# -- any leg ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LegRinging(LegEvent):
    """The leg's far end rings (channel state 5)."""

    channel: str


@dataclass(frozen=True, slots=True)
class LegAnswered(LegEvent):
    """The leg is up (channel state 6)."""

    channel: str


@dataclass(frozen=True, slots=True)
class LegEnded(LegEvent):
    """The leg hung up with C{cause}."""

    channel: str
    cause: int | None
    cause_txt: str | None


@dataclass(frozen=True, slots=True)
class OriginateResult(LegEvent):
    """How an asynchronous Originate ended: C{success}, else Asterisk's C{reason} code.

    C{action_id} is the Originate's ActionID (a callback's attempt key), C{uniqueid} the
    ChannelId it asked for (empty when no channel was made).
    """

    action_id: str
    success: bool
    reason: int | None
    channel: str


@dataclass(frozen=True, slots=True)
class RecordingStarted(LegEvent):
    """A bridge recording began: C{what} is C{"department"} (a leg's own voice, C{path} its
    prefix) or C{"room"} (the room's mix, C{path} the file)."""

    what: str
    path: str


@dataclass(frozen=True, slots=True)
class CallbackProgress(LegEvent):
    """The callback dialplan reported a stage of attempt C{key}: C{agent} (the agent
    answered), C{citizen} (the citizen answered), C{end} (with C{dial_status})."""

    key: str
    stage: str
    dial_status: str
    citizen_at: float | None


@dataclass(frozen=True, slots=True)
class SurveyAnswered(LegEvent):
    """The survey dialplan read the citizen's digits for attempt C{key}."""

    key: str
    digits: str


@dataclass(frozen=True, slots=True)
class ReminderAnswered(LegEvent):
    """The reminder dialplan read the duty number's digit (1 confirms) for attempt C{key}."""

    key: str
    digits: str


class RoomChange(enum.StrEnum):
    JOINED = "joined"
    LEFT = "left"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class RoomChanged(LegEvent):
    """Someone (C{uniqueid}, C{channel}) joined or left bridge room C{room}, or it ended
    (C{uniqueid} and C{channel} empty)."""

    room: str
    change: RoomChange
    channel: str


# -- the live view (what the console and the wallboard show) --------------------------------------

@dataclass(frozen=True, slots=True)
class ViewChanged:
    """The live view changed; C{payload} is what L{hotline.calls.notifier} documents."""

    @property
    def payload(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class CallUpdated(ViewChanged):
    """A call appeared or changed (ended ones included): C{call} as C{call_to_dict} makes it."""

    call: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        return {"type": "call_updated", "call": self.call}


@dataclass(frozen=True, slots=True)
class CallRemoved(ViewChanged):
    """An ended call left the live view after its linger."""

    call: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        return {"type": "call_removed", "call": self.call}


@dataclass(frozen=True, slots=True)
class AgentStateChanged(ViewChanged):
    """An agent appeared or changed (state, pause, call): C{agent} as C{agent_to_dict}."""

    agent: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        return {"type": "agent_updated", "agent": self.agent}


@dataclass(frozen=True, slots=True)
class AgentRemoved(ViewChanged):
    """A logged-out agent left the live view after its linger."""

    agent: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        return {"type": "agent_removed", "agent": self.agent}


@dataclass(frozen=True, slots=True)
class ViewResynced(ViewChanged):
    """The whole view was rebuilt after an AMI (re)connect."""

    calls: tuple[dict[str, Any], ...]
    agents: tuple[dict[str, Any], ...]

    @property
    def payload(self) -> dict[str, Any]:
        return {"type": "resynced", "calls": list(self.calls), "agents": list(self.agents)}
