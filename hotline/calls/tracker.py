# -*- test-case-name: tests.calls.test_tracker -*-
"""Live call state from AMI events: who waits, rings and talks, with which agent, since when.

The tracker is the controller's only reader of AMI for calls: it keeps every live leg (inbound,
agent, callback, survey, bridge department legs), the agents and the bridge rooms' members, and
publishes what happens as typed domain events (L{hotline.calls.events}) on one
L{hotline.bus.EventBus}. Nobody else subscribes to C{Hangup} for a call's sake.

L{CallTracker.subscribe} lists every event it consumes and the method handling it, in one place.
After every AMI login the tracker rebuilds its view from C{CoreShowChannels} and C{QueueStatus}
(L{CallTracker.resync}), so the view survives a reconnect; calls that vanished meanwhile are
reported ended with an unknown cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from hotline.agi import variables as v
from hotline.bus import EventBus
from hotline.calls import events as ev
from hotline.calls.events import LegKind, RoomChange
from hotline.calls.model import (
    Agent,
    AgentState,
    Call,
    CallState,
    agent_state_from_member,
    agent_to_dict,
    call_to_dict,
)
from hotline.calls.notifier import CallNotifier
from hotline.naming import (
    agent_code,
    is_peer_member,
    is_room,
    is_room_leg,
    is_spy_leg,
    parse_attempt_key,
)

if TYPE_CHECKING:
    from hotline.ami.client import AMIClient
    from hotline.ami.message import Message

__all__ = ["CallTracker", "CALL_VARIABLES", "Leg"]

#: Channel variables the dialplan sets from the inbound lookup (and their C{__} inherited copies).
HOTLINE_CALL_ID = v.HOTLINE_CALL_ID
HOTLINE_REPEAT_CALLER = v.HOTLINE_REPEAT_CALLER
HOTLINE_OPEN_TICKETS = v.HOTLINE_OPEN_TICKETS
CALL_VARIABLES = (HOTLINE_CALL_ID, HOTLINE_REPEAT_CALLER, HOTLINE_OPEN_TICKETS)
#: Recording variables: the call's files (finaliser), a department leg's and a room's (bridge).
_RECORDING_VARIABLES = frozenset({v.HOTLINE_RECORDING, v.HOTLINE_BRIDGE_REC, v.HOTLINE_ROOM_REC})
_WATCHED_VARIABLES = frozenset(CALL_VARIABLES) | _RECORDING_VARIABLES
#: What the PBX need send of the busiest events (L{hotline.ami.client.AMIClient.subscribe}'s
#: C{only}): the watched variables (and their inherited C{__} copies) of some thirty
#: C{VarSet}s a call, and the first step of each extension (a citizen arrives at
#: C{inbound,s,1}) of some twenty C{Newexten}s. The handlers check for themselves.
_ONLY = {
    "VarSet": ("Variable", "^_{0,2}(" + "|".join(sorted(_WATCHED_VARIABLES)) + ")$"),
    "Newexten": ("Priority", "^1$"),
}
#: The context a citizen's call enters first (dialplan/inbound.conf.j2).
INBOUND_CONTEXT = "inbound"

#: What the live view says about a call that ended while the AMI link was down.
UNKNOWN_CAUSE = "unknown (ended while the AMI link was down)"


@dataclass
class Leg:
    """What we know of one live Asterisk channel (citizen, agent, callback, survey, department
    leg, or anything else: C{kind}).

    @ivar complete_reason: the queue's C{AgentComplete} reason for an inbound call, if seen.
    @ivar room: the bridge room the channel is in, if any.
    """

    uniqueid: str
    name: str
    linkedid: str
    state: int | None = None
    caller: str | None = None
    context: str | None = None
    application: str | None = None
    application_data: str | None = None
    bridge: str | None = None
    started: float = 0.0
    kind: LegKind = LegKind.OTHER
    complete_reason: str | None = None
    room: str | None = None
    arrived: bool = False



def _kind_of(uniqueid: str, name: str, context: str | None) -> LegKind:
    """A new channel's kind from its uniqueid (our ChannelIds), name and first context."""
    if is_room_leg(uniqueid):
        return LegKind.DEPARTMENT
    if is_spy_leg(uniqueid):
        return LegKind.SUPERVISOR
    key = parse_attempt_key(uniqueid)
    if key is not None:
        return {"cb": LegKind.CALLBACK, "sv": LegKind.SURVEY}.get(key.kind, LegKind.REMINDER)
    if context == INBOUND_CONTEXT:
        return LegKind.INBOUND
    return LegKind.OTHER


def _dialled_by_us(uniqueid: str) -> bool:
    """Whether the ChannelId is one we gave a leg we originated (department, callback,
    survey, a supervisor's listening leg)."""
    return is_room_leg(uniqueid) or is_spy_leg(uniqueid) or parse_attempt_key(uniqueid) is not None


class CallTracker:
    """
    The live view of the hotline's calls and agents, kept from AMI events.

    Calls are keyed by the citizen channel's C{Uniqueid}, agents by their queue C{Interface}.
    An ended call (or a logged-out agent) stays visible for C{linger} seconds, then is dropped.
    Read the view through L{hotline.calls.service.CallService}; listen to it through
    C{tracker.notifier} (a L{CallNotifier}).
    """

    _log = Logger(namespace="hotline.calls.tracker")

    def __init__(
        self,
        *,
        ami: AMIClient,
        clock: IReactorTime,
        queue_name: str | None = None,
        linger: float = 5.0,
        notifier: CallNotifier | None = None,
        bus: EventBus | None = None,
    ) -> None:
        """
        @param ami: the AMI client whose events we consume and whose resync hooks we join.
        @param clock: provides C{seconds()} for timestamps and C{callLater} for the linger.
        @param queue_name: only this queue's callers and members; None: every queue.
        @param linger: seconds an ended call or a logged-out agent stays in the live view.
        @param notifier: where view changes are pushed; default a new L{CallNotifier} on C{bus}.
        @param bus: where every domain event is published (the notifier's bus when a notifier
            is given; else a new bus).
        """
        self._ami = ami
        self.clock = clock
        self.queue_name = queue_name
        self.linger = linger
        self.notifier = notifier if notifier is not None else CallNotifier(bus)
        self.bus = self.notifier.bus
        self.started = clock.seconds()
        #: Calls answered by an agent and abandoned in the queue since the tracker started.
        self.answered = 0
        self.abandoned = 0
        self._calls: dict[str, Call] = {}
        self._agents: dict[str, Agent] = {}
        self._channels: dict[str, Leg] = {}
        #: Bridge rooms' members: room name -> {uniqueid: channel}.
        self._rooms: dict[str, dict[str, str]] = {}
        self._timers: dict[tuple[str, str], IDelayedCall] = {}
        self._subscriptions: list[Any] = []
        self._hooked = False
        self._stopped = False

    # -- wiring -----------------------------------------------------------------------------

    def subscribe(self) -> None:
        """Consume these AMI events, and resync after every login."""
        events: dict[str, Callable[[Message], None]] = {
            "Newchannel": self._new_channel,
            "Newstate": self._new_state,
            "NewCallerid": self._new_callerid,
            "Newexten": self._new_exten,
            "VarSet": self._var_set,
            "QueueCallerJoin": self._queue_caller_join,
            "QueueCallerLeave": self._queue_caller_leave,
            "QueueCallerAbandon": self._queue_caller_abandon,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_ring_no_answer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "Hangup": self._hangup,
            "OriginateResponse": self._originate_response,
            "UserEvent": self._user_event,
            "ConfbridgeJoin": self._room_join,
            "ConfbridgeLeave": self._room_leave,
            "ConfbridgeEnd": self._room_end,
            "QueueMemberAdded": self._queue_member,
            "QueueMemberStatus": self._queue_member,
            "QueueMemberPause": self._queue_member,
            "QueueMemberPaused": self._queue_member,
            "QueueMemberRemoved": self._queue_member_removed,
        }
        self._stopped = False
        for name, method in events.items():
            self._subscriptions.append(self._ami.subscribe(name, method, only=_ONLY.get(name)))
        if not self._hooked:
            self._ami.add_resync_hook(self.resync)
            self._hooked = True

    def stop(self) -> None:
        """Stop consuming events and resyncing; cancel every linger timer."""
        self._stopped = True
        subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            sub.unsubscribe()
        timers, self._timers = self._timers, {}
        for timer in timers.values():
            if timer.active():
                timer.cancel()

    # -- reading ----------------------------------------------------------------------------

    @property
    def calls(self) -> Mapping[str, Call]:
        """The live calls (ended ones included while they linger), by citizen Uniqueid."""
        return self._calls

    @property
    def agents(self) -> Mapping[str, Agent]:
        """The agents, by interface (logged-out ones while they linger)."""
        return self._agents

    @property
    def legs(self) -> Mapping[str, Leg]:
        """Every live channel, by uniqueid, with its kind (L{LegKind})."""
        return self._channels

    @property
    def rooms(self) -> Mapping[str, Mapping[str, str]]:
        """The bridge rooms' members (uniqueid -> channel), by room name."""
        return self._rooms

    def free_agents(self) -> list[str]:
        """Seat codes logged in to the queue, not paused, not ringing or on a call (this PBX's
        own seats: another PBX's, rung through it, are that PBX's to place)."""
        out = []
        for agent in self._agents.values():
            if is_peer_member(agent.interface):
                continue
            if agent.state == AgentState.FREE and not agent.in_call \
                    and agent.call_uniqueid is None:
                code = agent_code(agent.interface, agent.name)
                if code is not None:
                    out.append(code)
        return out

    # -- channels ---------------------------------------------------------------------------

    def _new_channel(self, m: Message) -> None:
        uid = _str(m, "Uniqueid")
        if not uid:
            return
        self._channels[uid] = self._leg_from(m, uid)

    def _leg_from(self, m: Message, uid: str) -> Leg:
        name = _str(m, "Channel")
        context = _str(m, "Context") or None
        return Leg(uniqueid=uid, name=name, linkedid=_str(m, "Linkedid") or uid,
                   state=_int(m.get("ChannelState")), caller=_caller(m), context=context,
                   started=self.clock.seconds(), kind=_kind_of(uid, name, context))

    def _leg_for(self, m: Message) -> Leg | None:
        """The leg an event names; one made from the event's own channel headers when the
        C{Newchannel} was missed (a leg we dialled, seen first after a reconnect)."""
        uid = _str(m, "Uniqueid")
        ch = self._channels.get(uid)
        if ch is None and uid and _dialled_by_us(uid):
            ch = self._channels[uid] = self._leg_from(m, uid)
        return ch

    def _new_state(self, m: Message) -> None:
        ch = self._leg_for(m)
        if ch is None:
            self._log.debug("Newstate for unknown channel {uniqueid}", uniqueid=_str(m, "Uniqueid"))
            return
        ch.name = _str(m, "Channel") or ch.name
        ch.state = state = _int(m.get("ChannelState"))
        self._caller_changed(ch, m)
        if ch.kind is not LegKind.OTHER:
            if state == 5:
                self.bus.publish(ev.LegRinging(ch.uniqueid, ch.kind, _ts(m, self.clock),
                                               ch.name))
            elif state == 6:
                self.bus.publish(ev.LegAnswered(ch.uniqueid, ch.kind, _ts(m, self.clock),
                                                ch.name))

    def _new_callerid(self, m: Message) -> None:
        ch = self._channel_for(m)
        if ch is None:
            return
        self._caller_changed(ch, m)

    def _caller_changed(self, ch: Leg, m: Message) -> None:
        caller = _caller(m)
        if caller is None:
            return
        ch.caller = caller
        call = self._calls.get(ch.uniqueid)
        if call is not None and call.state != CallState.ENDED and call.caller != caller:
            call.caller = caller
            self.notifier.call_updated(call)

    def _new_exten(self, m: Message) -> None:
        uid = _str(m, "Uniqueid")
        ch = self._channels.get(uid)
        context = _str(m, "Context")
        if ch is None:
            if context != INBOUND_CONTEXT or not uid:
                return
            # A citizen whose Newchannel we missed: the inbound context is enough to follow.
            ch = self._channels[uid] = self._leg_from(m, uid)
        ch.context = context or ch.context
        ch.application = _str(m, "Application") or None
        ch.application_data = _str(m, "AppData") or None
        if context == INBOUND_CONTEXT and not ch.arrived:
            ch.kind = LegKind.INBOUND
            ch.arrived = True
            self.bus.publish(ev.CallArrived(uid, ch.kind, _ts(m, self.clock), ch.linkedid,
                                            _str(m, "CallerIDNum"), ch.name))

    def _bridge_enter(self, m: Message) -> None:
        ch = self._channel_for(m)
        if ch is not None:
            ch.bridge = _str(m, "BridgeUniqueid") or None

    def _bridge_leave(self, m: Message) -> None:
        ch = self._channel_for(m)
        if ch is not None:
            ch.bridge = None

    def _var_set(self, m: Message) -> None:
        name = _str(m, "Variable").lstrip("_").upper()
        if name not in _WATCHED_VARIABLES:
            return
        uid = _str(m, "Uniqueid")
        value = _str(m, "Value")
        if name in _RECORDING_VARIABLES:
            self._recording(m, name, uid, value)
            return
        call = self._calls.get(uid)
        if call is None:
            ch = self._channels.get(uid)
            if ch is None:
                self._log.debug("VarSet {name} on vanished channel {uniqueid}", name=name,
                                uniqueid=uid)
                return
            if ch.uniqueid != ch.linkedid:
                # An inherited copy on an agent leg: it belongs to the citizen's call.
                call = self._call_by_linkedid(ch.linkedid)
                if call is None:
                    return
            elif name == HOTLINE_CALL_ID and value:
                # The inbound lookup answered for an originating channel: a citizen arriving.
                now = self.clock.seconds()
                call = Call(uniqueid=uid, channel=ch.name, linkedid=ch.linkedid,
                            caller=ch.caller, since=now, started=ch.started or now)
                self._calls[uid] = call
            else:
                return
        if call.state == CallState.ENDED:
            return
        if _apply_variable(call, name, value):
            self.notifier.call_updated(call)

    def _recording(self, m: Message, name: str, uid: str, value: str) -> None:
        if _str(m, "Variable") != name:
            return  # an inherited copy (``__``) on another leg: the owner's own VarSet counts
        ch = self._channels.get(uid)
        kind = ch.kind if ch is not None else _kind_of(uid, "", None)
        at = _ts(m, self.clock)
        if name == v.HOTLINE_RECORDING:
            self.bus.publish(ev.CallRecording(uid, kind, at, value))
        else:
            what = "department" if name == v.HOTLINE_BRIDGE_REC else "room"
            self.bus.publish(ev.RecordingStarted(uid, kind, at, what, value))

    # -- queue callers ----------------------------------------------------------------------

    def _queue_caller_join(self, m: Message) -> None:
        queue = _str(m, "Queue")
        if not self._our_queue(queue):
            return
        uid = _str(m, "Uniqueid")
        now = self.clock.seconds()
        call = self._calls.get(uid)
        if call is None or call.state == CallState.ENDED:
            ch = self._channels.get(uid)
            call = Call(uniqueid=uid, channel=_str(m, "Channel"),
                        linkedid=_str(m, "Linkedid") or (ch.linkedid if ch else uid),
                        caller=_caller(m) or (ch.caller if ch else None), since=now,
                        started=ch.started if ch and ch.started else now)
            self._cancel_timer("call", uid)
            self._calls[uid] = call
        call.queue = queue
        call.position = _int(m.get("Position"))
        call.queued_since = now
        call.move(CallState.WAITING, now)
        self._log.info("call {uniqueid} from {caller} waits in {queue} at {position}",
                       uniqueid=uid, caller=call.caller, queue=queue, position=call.position)
        self.notifier.call_updated(call)
        self.bus.publish(ev.CallQueued(uid, LegKind.INBOUND, _ts(m, self.clock), queue,
                                       call.position))

    def _queue_caller_leave(self, m: Message) -> None:
        call = self._call_for(m)
        if call is None:
            return
        left = call.position
        call.position = None
        self.notifier.call_updated(call)
        if left is None:
            return
        for other in self._calls.values():
            if (other.queue == call.queue and other.position is not None
                    and other.position > left):
                other.position -= 1
                self.notifier.call_updated(other)

    def _queue_caller_abandon(self, m: Message) -> None:
        call = self._call_for(m)
        if call is None:
            return
        if not call.abandoned:
            call.abandoned = True
            self.abandoned += 1
        call.hold_time = _int(m.get("HoldTime"))
        call.hung_up_by = "caller"
        self._log.info("call {uniqueid} abandoned after {hold} s", uniqueid=call.uniqueid,
                       hold=call.hold_time)
        self.notifier.call_updated(call)

    # -- agents and calls -------------------------------------------------------------------

    def _agent_called(self, m: Message) -> None:
        call = self._call_for(m)
        if call is None:
            return
        now = self.clock.seconds()
        self._set_agent(call, m)
        call.move(CallState.RINGING, now)
        self.notifier.call_updated(call)
        leg = self._channels.get(call.agent_uniqueid or "")
        if leg is not None and leg.kind is LegKind.OTHER:
            leg.kind = LegKind.AGENT
        self.bus.publish(ev.CallRinging(call.uniqueid, LegKind.INBOUND, _ts(m, self.clock),
                                        call.agent_interface,
                                        agent_code(call.agent_interface, call.agent_name)))
        agent = self._agents.get(call.agent_interface or "")
        if agent is not None:
            agent.call_uniqueid = call.uniqueid
            if agent.move(AgentState.RINGING, now):
                self.notifier.agent_updated(agent)

    def _agent_ring_no_answer(self, m: Message) -> None:
        call = self._call_for(m)
        if call is None:
            return
        interface = _str(m, "Interface")
        now = self.clock.seconds()
        if call.state == CallState.RINGING and call.agent_interface == interface:
            call.agent_interface = call.agent_name = None
            call.agent_channel = call.agent_uniqueid = None
            call.move(CallState.WAITING, now)
            self.notifier.call_updated(call)
        agent = self._agents.get(interface)
        if agent is not None and agent.call_uniqueid == call.uniqueid:
            self._agent_at_rest(agent, now)

    def _agent_connect(self, m: Message) -> None:
        call = self._call_for(m)
        if call is None:
            return
        now = self.clock.seconds()
        self._set_agent(call, m)
        call.hold_time = _int(m.get("HoldTime"))
        call.position = None
        if call.move(CallState.TALKING, now):
            self.answered += 1
        self._log.info("call {uniqueid} answered by {agent} after {hold} s",
                       uniqueid=call.uniqueid, agent=call.agent_interface, hold=call.hold_time)
        self.notifier.call_updated(call)
        self.bus.publish(ev.CallAnswered(
            call.uniqueid, LegKind.INBOUND, _ts(m, self.clock), _str(m, "Interface") or None,
            agent_code(_str(m, "Interface") or None, _str(m, "MemberName") or None),
            call.agent_channel, call.hold_time))
        for agent in self._agents.values():
            if agent.interface == call.agent_interface:
                agent.call_uniqueid = call.uniqueid
                agent.in_call = True
                if agent.move(AgentState.TALKING, now):
                    self.notifier.agent_updated(agent)
            elif agent.call_uniqueid == call.uniqueid:  # rang too, but lost the race
                self._agent_at_rest(agent, now)

    def _agent_complete(self, m: Message) -> None:
        interface = _str(m, "Interface")
        if interface and self._our_queue(_str(m, "Queue")):
            self.bus.publish(ev.AgentCallCompleted(
                _str(m, "Uniqueid"), LegKind.INBOUND, _ts(m, self.clock), interface,
                agent_code(interface, _str(m, "MemberName") or None), _str(m, "Reason") or None,
                _int(m.get("TalkTime"))))
        call = self._call_for(m)
        if call is None:
            return
        call.hold_time = _int(m.get("HoldTime"))
        call.talk_time = _int(m.get("TalkTime"))
        reason = _str(m, "Reason")
        if reason:
            call.hung_up_by = reason
        leg = self._channels.get(call.uniqueid)
        if leg is not None:
            leg.complete_reason = reason or None
        self.notifier.call_updated(call)
        agent = self._agents.get(_str(m, "Interface"))
        if agent is not None and agent.call_uniqueid == call.uniqueid:
            agent.in_call = False
            self._agent_at_rest(agent, self.clock.seconds())

    def _hangup(self, m: Message) -> None:
        uid = _str(m, "Uniqueid")
        ch = self._channels.pop(uid, None)
        self._view_hangup(m, uid, ch)
        if ch is None:
            if _dialled_by_us(uid):
                ch = self._leg_from(m, uid)  # a leg we dialled whose Newchannel was missed
            else:
                return
        if ch.room is not None:
            self._rooms.get(ch.room, {}).pop(uid, None)
        if ch.kind is LegKind.OTHER:
            return
        at = _ts(m, self.clock)
        cause, cause_txt = _int(m.get("Cause")), _str(m, "Cause-txt") or None
        if ch.kind is LegKind.INBOUND and ch.arrived:
            self.bus.publish(ev.CallEnded(uid, ch.kind, at, ch.linkedid,
                                          ch.caller or _str(m, "CallerIDNum"), cause, cause_txt,
                                          ch.complete_reason))
        self.bus.publish(ev.LegEnded(uid, ch.kind, at, ch.name or _str(m, "Channel"), cause,
                                     cause_txt))

    def _view_hangup(self, m: Message, uid: str, ch: Leg | None) -> None:
        call = self._calls.get(uid)
        if call is not None and call.state != CallState.ENDED:
            call.hangup_cause = _int(m.get("Cause"))
            call.hangup_cause_txt = _str(m, "Cause-txt") or None
            if call.hung_up_by is None and call.state == CallState.TALKING:
                call.hung_up_by = "caller"  # the agent's leg was still up
            self._end(call)
            return
        for call in self._calls.values():
            if call.agent_uniqueid == uid and call.state == CallState.TALKING:
                if call.hung_up_by is None:
                    call.hung_up_by = "agent"
                    self.notifier.call_updated(call)
                return
        if ch is None and call is None:
            self._log.debug("Hangup of unknown channel {uniqueid}", uniqueid=uid)

    # -- originated legs, the dialplan's reports, bridge rooms --------------------------------

    def _originate_response(self, m: Message) -> None:
        uid = _str(m, "Uniqueid")
        if uid == "<null>":
            uid = ""
        action_id = _str(m, "ActionID")
        ch = self._channels.get(uid)
        kind = ch.kind if ch is not None else _kind_of(uid or action_id, "", None)
        self.bus.publish(ev.OriginateResult(
            uid, kind, _ts(m, self.clock), action_id,
            _str(m, "Response").lower() == "success", _int(m.get("Reason")),
            _str(m, "Channel")))

    def _user_event(self, m: Message) -> None:
        name = _str(m, "UserEvent")
        key = _str(m, "Key")
        if name == "HotlineCallback":
            citizen_at = _float(_str(m, "CitizenAt"))
            self.bus.publish(ev.CallbackProgress(
                _str(m, "Uniqueid"), LegKind.CALLBACK, _ts(m, self.clock), key,
                _str(m, "Stage"), _str(m, "DialStatus"), citizen_at))
        elif name == "HotlineKeepPlace":
            self.bus.publish(ev.KeepPlaceProgress(
                key, LegKind.INBOUND, _ts(m, self.clock), key, _str(m, "Stage"),
                _str(m, "Caller"), _float(_str(m, "Joined")), _int(m.get("Position")),
                _str(m, "Queue"), _str(m, "DialStatus")))
        elif name == "HotlineSurvey":
            self.bus.publish(ev.SurveyAnswered(_str(m, "Uniqueid"), LegKind.SURVEY,
                                               _ts(m, self.clock), key, _str(m, "Score")))
        elif name == "HotlineReminder":
            self.bus.publish(ev.ReminderAnswered(_str(m, "Uniqueid"), LegKind.REMINDER,
                                                 _ts(m, self.clock), key, _str(m, "Score")))

    def _room_join(self, m: Message) -> None:
        room, uid, channel = _str(m, "Conference"), _str(m, "Uniqueid"), _str(m, "Channel")
        if not is_room(room):
            return
        self._rooms.setdefault(room, {})[uid] = channel
        ch = self._channels.get(uid)
        if ch is not None:
            ch.room = room
        self._room_changed(m, room, RoomChange.JOINED, uid, channel, ch)

    def _room_leave(self, m: Message) -> None:
        room, uid, channel = _str(m, "Conference"), _str(m, "Uniqueid"), _str(m, "Channel")
        if not is_room(room):
            return
        self._rooms.get(room, {}).pop(uid, None)
        ch = self._channels.get(uid)
        if ch is not None and ch.room == room:
            ch.room = None
        self._room_changed(m, room, RoomChange.LEFT, uid, channel, ch)

    def _room_end(self, m: Message) -> None:
        room = _str(m, "Conference")
        if not is_room(room):
            return
        self._rooms.pop(room, None)
        self._room_changed(m, room, RoomChange.ENDED, "", "", None)

    def _room_changed(self, m: Message, room: str, change: RoomChange, uid: str, channel: str,
                      ch: Leg | None) -> None:
        kind = ch.kind if ch is not None else _kind_of(uid, channel, None)
        self.bus.publish(ev.RoomChanged(uid, kind, _ts(m, self.clock), room, change, channel))

    def _end(self, call: Call) -> None:
        now = self.clock.seconds()
        call.position = None
        call.move(CallState.ENDED, now)
        for agent in self._agents.values():
            if agent.call_uniqueid == call.uniqueid:
                agent.in_call = False
                self._agent_at_rest(agent, now)
        # No line here: the finaliser's "finalised" line is each call's one line at its end.
        self.notifier.call_updated(call)
        self._schedule_removal("call", call.uniqueid)

    # -- queue members ----------------------------------------------------------------------

    def _queue_member(self, m: Message) -> None:
        queue = _str(m, "Queue")
        if not self._our_queue(queue):
            return
        interface = _str(m, "Interface") or _str(m, "Location")
        if not interface:
            return
        now = self.clock.seconds()
        agent = self._agents.get(interface)
        if agent is None:
            agent = self._agents[interface] = Agent(interface=interface, since=now)
        before = agent_to_dict(agent)
        self._cancel_timer("agent", interface)
        _apply_member(agent, m, queue)
        state = agent_state_from_member(paused=agent.paused, status=agent.status,
                                        in_call=agent.in_call, reason=agent.paused_reason)
        agent.move(state, now)
        if agent_to_dict(agent) != before:
            self.notifier.agent_updated(agent)

    def _queue_member_removed(self, m: Message) -> None:
        queue = _str(m, "Queue")
        if not self._our_queue(queue):
            return
        interface = _str(m, "Interface") or _str(m, "Location")
        agent = self._agents.get(interface)
        if agent is None:
            self._log.debug("QueueMemberRemoved for unknown agent {interface}",
                            interface=interface)
            return
        if queue in agent.queues:
            agent.queues.remove(queue)
        if not agent.queues:
            agent.paused = False
            agent.paused_reason = None
            agent.in_call = False
            agent.move(AgentState.LOGGED_OUT, self.clock.seconds())
            self._schedule_removal("agent", interface)
        self.notifier.agent_updated(agent)

    def _agent_at_rest(self, agent: Agent, now: float) -> None:
        agent.call_uniqueid = None
        state = agent_state_from_member(paused=agent.paused, status=None, in_call=False,
                                        reason=agent.paused_reason)
        if agent.move(state, now):
            self.notifier.agent_updated(agent)

    # -- resync -----------------------------------------------------------------------------

    async def resync(self, ami: AMIClient) -> None:
        """
        Rebuild the live view from C{CoreShowChannels} and C{QueueStatus}, replacing it at once.

        Registered as a resync hook of the AMI client, so it runs after every login. Calls we
        knew that no longer exist are ended with an unknown cause and reported; the lookup's
        channel variables are fetched for calls we had not seen before.
        """
        if self._stopped:
            return
        channels = _list(await ami.action("CoreShowChannels"))
        status_args = {"Queue": self.queue_name} if self.queue_name else {}
        status = _list(await ami.action("QueueStatus", **status_args))
        if self._stopped:
            return
        fresh = self.replace_state(channels, status)
        for call in fresh:
            await self._fetch_variables(ami, call)

    def replace_state(self, channels: list[Message], status: list[Message]) -> list[Call]:
        """
        Swap in the view described by a C{CoreShowChannels} and a C{QueueStatus} reply.

        @return: the live calls we had not known before (their lookup variables are unknown).
        """
        now = self.clock.seconds()
        new_channels: dict[str, Leg] = {}
        for m in channels:
            if m.name != "CoreShowChannel":
                continue
            uid = _str(m, "Uniqueid")
            name, context = _str(m, "Channel"), _str(m, "Context") or None
            leg = new_channels[uid] = Leg(
                uniqueid=uid, name=name, linkedid=_str(m, "Linkedid") or uid,
                state=_int(m.get("ChannelState")), caller=_caller(m),
                context=context, application=_str(m, "Application") or None,
                application_data=_str(m, "ApplicationData") or None,
                bridge=_str(m, "BridgeId") or None,
                started=now - _duration(_str(m, "Duration")),
                kind=_kind_of(uid, name, context),
            )
            old_leg = self._channels.get(uid)
            if old_leg is not None:
                # What only the events told: keep it across the reconnect.
                leg.kind, leg.arrived = old_leg.kind, old_leg.arrived
                leg.complete_reason, leg.room = old_leg.complete_reason, old_leg.room

        new_agents: dict[str, Agent] = {}
        for m in status:
            if m.name != "QueueMember" or not self._our_queue(_str(m, "Queue")):
                continue
            interface = _str(m, "Location") or _str(m, "Interface")
            agent = new_agents.get(interface)
            if agent is None:
                old = self._agents.get(interface)
                agent = new_agents[interface] = Agent(
                    interface=interface, since=now,
                    state=old.state if old else AgentState.LOGGED_OUT,
                )
                if old is not None:
                    agent.since = old.since
            _apply_member(agent, m, _str(m, "Queue"))
            agent.move(agent_state_from_member(paused=agent.paused, status=agent.status,
                                               in_call=agent.in_call,
                                               reason=agent.paused_reason), now)

        new_calls: dict[str, Call] = {}
        for m in status:
            if m.name != "QueueEntry" or not self._our_queue(_str(m, "Queue")):
                continue
            uid = _str(m, "Uniqueid")
            ch = new_channels.get(uid)
            call = self._carried(uid, m, ch, now)
            call.queue = _str(m, "Queue")
            call.position = _int(m.get("Position"))
            joined = now - (_int(m.get("Wait")) or 0)
            if call.queued_since is None:
                call.queued_since = joined
            ringing = (call.state == CallState.RINGING and call.agent_uniqueid in new_channels)
            if not ringing:
                call.move(CallState.WAITING, joined)
            new_calls[uid] = call

        for ch in new_channels.values():
            if ch.uniqueid in new_calls or (ch.application or "").lower() != "queue":
                continue
            queue = (ch.application_data or "").split(",")[0] or None
            if not ch.bridge or not self._our_queue(queue or ""):
                continue
            peer = next((o for o in new_channels.values()
                         if o.bridge == ch.bridge and o is not ch), None)
            call = self._carried(ch.uniqueid, None, ch, now)
            call.queue = queue
            call.position = None
            if peer is not None:
                call.agent_channel = peer.name
                call.agent_uniqueid = peer.uniqueid
                member = _member_for_channel(new_agents, peer.name)
                if member is not None:
                    call.agent_interface = member.interface
                    call.agent_name = member.name
                    member.call_uniqueid = ch.uniqueid
            if call.state != CallState.TALKING:
                talking_since = peer.started if peer is not None else now
                call.move(CallState.TALKING, talking_since)
            new_calls[ch.uniqueid] = call

        vanished: list[Call] = []
        for uid, old in self._calls.items():
            if uid in new_calls:
                continue
            if old.state == CallState.ENDED:
                new_calls[uid] = old  # still lingering; its timer runs on
            elif uid in new_channels and old.state == CallState.ARRIVING:
                new_calls[uid] = old
            else:
                old.hangup_cause = None
                old.hangup_cause_txt = UNKNOWN_CAUSE
                old.position = None
                old.move(CallState.ENDED, now)
                new_calls[uid] = old
                vanished.append(old)

        for interface, old_agent in self._agents.items():
            if interface in new_agents:
                continue
            if old_agent.state != AgentState.LOGGED_OUT:
                old_agent.queues = []
                old_agent.paused = False
                old_agent.in_call = False
                old_agent.call_uniqueid = None
                old_agent.move(AgentState.LOGGED_OUT, now)
            new_agents[interface] = old_agent

        fresh = [c for uid, c in new_calls.items()
                 if uid not in self._calls and c.state != CallState.ENDED]
        self._channels, self._calls, self._agents = new_channels, new_calls, new_agents
        for call in vanished:
            self._log.info("call {uniqueid} ended while the AMI link was down",
                           uniqueid=call.uniqueid)
            self._schedule_removal("call", call.uniqueid)
        for interface, agent in new_agents.items():
            if agent.state == AgentState.LOGGED_OUT and ("agent", interface) not in self._timers:
                self._schedule_removal("agent", interface)
        self._log.info("live view resynced: {calls} calls, {agents} agents, {gone} vanished",
                       calls=len(new_calls), agents=len(new_agents), gone=len(vanished))
        for call in vanished:
            self.notifier.call_updated(call)
        self.notifier.resynced(new_calls.values(), new_agents.values())
        return fresh

    def _carried(self, uid: str, m: Message | None, ch: Leg | None, now: float) -> Call:
        """The call C{uid} as we knew it (a copy), else a new one from the entry or channel."""
        old = self._calls.get(uid)
        if old is not None and old.state != CallState.ENDED:
            return replace(old)
        started = ch.started if ch is not None else now
        return Call(
            uniqueid=uid,
            channel=(ch.name if ch else _str(m, "Channel") if m is not None else ""),
            linkedid=ch.linkedid if ch else uid,
            caller=(_caller(m) if m is not None else None) or (ch.caller if ch else None),
            since=now, started=started,
        )

    async def _fetch_variables(self, ami: AMIClient, call: Call) -> None:
        changed = False
        for name in CALL_VARIABLES:
            try:
                reply = await ami.action("Getvar", Channel=call.channel, Variable=name)
            except Exception as e:
                self._log.debug("Getvar {name} on {uniqueid} failed: {error}", name=name,
                                uniqueid=call.uniqueid, error=e)
                return
            if isinstance(reply, list) or call.state == CallState.ENDED:
                return
            changed |= _apply_variable(call, name, _str(reply, "Value"))
        if changed and self._calls.get(call.uniqueid) is call:
            self.notifier.call_updated(call)

    # -- helpers ----------------------------------------------------------------------------

    def _our_queue(self, queue: str) -> bool:
        return self.queue_name is None or queue == self.queue_name

    def _channel_for(self, m: Message) -> Leg | None:
        uid = _str(m, "Uniqueid")
        ch = self._channels.get(uid)
        if ch is None:
            self._log.debug("{event} for unknown channel {uniqueid}", event=m.name, uniqueid=uid)
        return ch

    def _call_for(self, m: Message) -> Call | None:
        uid = _str(m, "Uniqueid")
        call = self._calls.get(uid)
        if call is None or call.state == CallState.ENDED:
            self._log.debug("{event} for unknown or ended call {uniqueid}", event=m.name,
                            uniqueid=uid)
            return None
        return call

    def _call_by_linkedid(self, linkedid: str) -> Call | None:
        for call in self._calls.values():
            if call.linkedid == linkedid:
                return call
        return None

    def _set_agent(self, call: Call, m: Message) -> None:
        call.agent_interface = _str(m, "Interface") or call.agent_interface
        call.agent_name = _str(m, "MemberName") or call.agent_name
        call.agent_channel = _str(m, "DestChannel") or call.agent_channel
        call.agent_uniqueid = _str(m, "DestUniqueid") or call.agent_uniqueid

    def _schedule_removal(self, kind: str, key: str) -> None:
        self._cancel_timer(kind, key)
        self._timers[(kind, key)] = self.clock.callLater(self.linger, self._remove, kind, key)

    def _cancel_timer(self, kind: str, key: str) -> None:
        timer = self._timers.pop((kind, key), None)
        if timer is not None and timer.active():
            timer.cancel()

    def _remove(self, kind: str, key: str) -> None:
        self._timers.pop((kind, key), None)
        if kind == "call":
            call = self._calls.get(key)
            if call is not None and call.state == CallState.ENDED:
                del self._calls[key]
                self.notifier.call_removed(call)
        else:
            agent = self._agents.get(key)
            if agent is not None and agent.state == AgentState.LOGGED_OUT:
                del self._agents[key]
                self.notifier.agent_removed(agent)

    def snapshot(self) -> dict[str, Any]:
        """The whole view as plain data (what a console shows on connect)."""
        return {"calls": [call_to_dict(c) for c in self._calls.values()],
                "agents": [agent_to_dict(a) for a in self._agents.values()]}


def _str(m: Message | Mapping[str, Any], name: str) -> str:
    value = m.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def _ts(m: Message, clock: IReactorTime) -> float:
    """The event's C{Timestamp} (epoch seconds, C{timestampevents=yes}), else the clock's."""
    value = m.get("Timestamp")
    if value:
        try:
            return float(value if not isinstance(value, list) else value[-1])
        except ValueError:
            pass
    return clock.seconds()


def _float(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _caller(m: Message) -> str | None:
    value = _str(m, "CallerIDNum")
    return value if value and value != "<unknown>" else None


def _duration(text: str) -> int:
    """Seconds in a C{CoreShowChannel} C{Duration} (C{HH:MM:SS}); 0 when unreadable."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        return 0
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _apply_variable(call: Call, name: str, value: str) -> bool:
    """Set the lookup variable C{name} on C{call}; return whether anything changed."""
    before = (call.hotline_call_id, call.repeat_caller, call.open_tickets)
    if name == HOTLINE_CALL_ID:
        call.hotline_call_id = value or None
    elif name == HOTLINE_REPEAT_CALLER:
        call.repeat_caller = value.strip().lower() in ("1", "yes", "true")
    elif name == HOTLINE_OPEN_TICKETS:
        call.open_tickets = _int(value.strip()) if value.strip() else None
    return (call.hotline_call_id, call.repeat_caller, call.open_tickets) != before


def _apply_member(agent: Agent, m: Message, queue: str) -> None:
    """Copy a QueueMember* event's (or QueueStatus entry's) fields onto C{agent}."""
    agent.name = _str(m, "MemberName") or _str(m, "Name") or agent.name
    if queue and queue not in agent.queues:
        agent.queues.append(queue)
    if "Paused" in m:
        agent.paused = _str(m, "Paused") == "1"
    agent.paused_reason = (_str(m, "PausedReason") or None) if agent.paused else None
    if "Status" in m:
        agent.status = _int(m.get("Status"))
    if "InCall" in m:
        agent.in_call = _str(m, "InCall") == "1"
    calls_taken = _int(m.get("CallsTaken"))
    if calls_taken is not None:
        agent.calls_taken = calls_taken


def _member_for_channel(agents: Mapping[str, Agent], channel: str) -> Agent | None:
    """The member whose interface a channel name belongs to (C{PJSIP/agent-1001-0000000a})."""
    base = channel.rsplit("-", 1)[0]
    agent = agents.get(base)
    if agent is not None:
        return agent
    for interface, agent in agents.items():
        if channel.lower().startswith(interface.lower() + "-"):
            return agent
    return None


def _list(reply: Message | list[Message]) -> list[Message]:
    return reply if isinstance(reply, list) else [reply]
