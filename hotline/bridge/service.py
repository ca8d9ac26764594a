# -*- test-case-name: tests.bridge.test_integration -*-
"""The three-way bridge (三方通话): citizen and agent into a room of their own, a department dialled in.

``bridge(call_id, entry)`` sends one AMI ``Redirect`` (``ExtraChannel``) moving the citizen and
the agent into the room's dialplan contexts (dialplan/bridge.conf.j2), then ``Originate``s the
entry's number over the trunk into the same room. From then on the room is followed from the
live call tracker's domain events (``LegRinging``/``LegAnswered``, ``OriginateResult``,
``RoomChanged``, ``LegEnded``, ``RecordingStarted``; no AMI subscription of its own), each change
is published as ``RoomUpdated`` on the same bus, and every step is written: the ``Bridge`` row, one ``BridgeParticipant`` per party and number
dialled, and a ``TicketEvent`` on the call's ticket.

What the PBX does by itself (so it holds without the controller): the citizen is the room's
marked user, so agent and department leave when the citizen does; a citizen left alone by the
agent or the department goes back to the queue (``hotline-bridge-left``). What this service
adds: a department that does not come (no answer, busy, congestion, unreachable) is named, the
room hears why, the entry's next fallback number is dialled, and a citizen whose agent already
left is sent back to the queue instead of waiting for nobody.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from twisted.internet import defer, threads
from twisted.logger import Logger

from db.models import Call, MunicipalHotline
from hotline.agi import variables as v
from hotline.ami.actions import AMIError
from hotline.bridge import records
from hotline.bridge.events import RoomUpdated
from hotline.bridge.outcomes import (
    ANSWERED,
    FAILURES,
    NOTICE_PROMPT,
    NoRoom,
    NoSuchCall,
    NoSuchEntry,
    NotBridgeable,
    outcome_of,
)
from hotline.bridge.rooms import DepartmentLeg, Room
from hotline.bus import EventBus
from hotline.calls.events import (
    LegAnswered,
    LegEnded,
    LegRinging,
    OriginateResult,
    RecordingStarted,
    RoomChange,
    RoomChanged,
)
from hotline.naming import agent_code, room_name

if TYPE_CHECKING:
    from db.session import Database
    from hotline.ami.client import AMIClient
    from hotline.calls.tracker import CallTracker
    from hotline.config import Config

__all__ = ["BridgeService", "Target", "BridgeAttempt"]

_log = Logger(namespace="hotline.bridge")

_CTX_CITIZEN, _CTX_AGENT, _CTX_DEPARTMENT = (
    "hotline-bridge-citizen", "hotline-bridge-agent", "hotline-bridge-department")
_CTX_NOTICE, _CTX_SAY, _CTX_REQUEUE = (
    "hotline-bridge-notice", "hotline-bridge-say", "hotline-bridge-requeue")
#: Seconds to wait for the second of OriginateResponse and Hangup before naming a failure.
_SETTLE_S = 0.3


@dataclass(frozen=True)
class Target:
    """What is dialled: a directory entry's id, name, number and fallback numbers."""

    id: int | None
    name: str
    number: str
    fallback_numbers: tuple[str, ...] = ()

    @classmethod
    def of(cls, entry: Any) -> Target:
        """From a ``DirectoryEntry`` (or anything with those attributes) or a ``Target``."""
        if isinstance(entry, Target):
            return entry
        return cls(id=getattr(entry, "id", None), name=entry.name, number=entry.number,
                   fallback_numbers=tuple(getattr(entry, "fallback_numbers", ()) or ()))


@dataclass(frozen=True)
class BridgeAttempt:
    """What ``bridge()`` hands back: the room, and the first department leg to watch.

    ``leg.ringing`` fires with the clock time the department's phone rang; ``leg.done`` with
    its outcome (``answered`` or one of ``FAILURES``). ``room.ended_d`` fires when the room ends.
    """

    room: Room
    leg: DepartmentLeg


class BridgeService:
    """Makes and follows three-way bridges over one AMI link and one database."""

    def __init__(self, *, config: Config, ami: AMIClient, db: Database, reactor: Any,
                 tracker: CallTracker | None = None, bus: EventBus | None = None,
                 host_path: Callable[[str], str] = lambda p: p,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        """
        @param tracker: the controller's live call view (finds citizen and agent channels);
            None: they are looked up over AMI (the command line does that).
        @param bus: where the tracker publishes (default: the tracker's bus, else a new one;
            without a tracker publishing on it, the command line's rooms are not followed).
        @param host_path: recording paths as Asterisk names them → as this host reads them.
        """
        cfg = config["bridge"]
        self.ami = ami
        self.db = db
        self.reactor = reactor
        self.tracker = tracker
        self.bus = bus if bus is not None else tracker.bus if tracker is not None else EventBus()
        self.host_path = host_path
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.trunk = str(cfg["trunk"])
        self.ring_timeout_s = float(cfg["ring_timeout_s"])
        self.auto_fallback = bool(cfg["auto_fallback"])
        self.action_timeout_s = float(cfg["action_timeout_s"])
        self.caller_id = str(config["site"]["hotline_number"])
        self.zone = str(config["site"]["timezone"])
        self._rooms: dict[str, Room] = {}
        self._by_call: dict[int, Room] = {}
        self._legs: dict[str, tuple[Room, DepartmentLeg]] = {}
        self._chains: dict[str, defer.Deferred[Any]] = {}
        self._subs: list[Any] = []
        self._timers: list[Any] = []

    # -- life ---------------------------------------------------------------------------------

    def subscribe(self) -> None:
        """The domain events this service reads, in one place."""
        if not self._subs:
            self._subs = self.bus.subscribe_all({
                LegRinging: self._ringing,
                LegAnswered: self._answered,
                OriginateResult: self._originate_response,
                RecordingStarted: self._recording,
                RoomChanged: self._room_changed,
                LegEnded: self._hangup,
            })

    async def start(self) -> None:
        """Start following rooms (subscriptions are idempotent)."""
        self.subscribe()

    async def stop(self) -> None:
        """Stop following rooms; the PBX keeps them going on its own."""
        for sub in self._subs:
            sub.cancel()
        self._subs = []
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers = []
        chains = list(self._chains.values())
        if chains:
            await defer.DeferredList(chains, consumeErrors=True)

    # -- reading ------------------------------------------------------------------------------

    def rooms(self) -> list[Room]:
        """The live rooms."""
        return [r for r in self._rooms.values() if not r.ended]

    def room_of(self, call_id: int | str) -> Room | None:
        """The live room of a call (by its row id or citizen uniqueid), if any."""
        for room in self._rooms.values():
            if not room.ended and str(call_id) in (str(room.call_id), room.call_uniqueid):
                return room
        return None

    # -- acting -------------------------------------------------------------------------------

    async def bridge(self, call_id: int | str, entry: Any, *,
                     number: str | None = None) -> BridgeAttempt:
        """Move the call's citizen and agent into a new room and dial ``entry`` into it.

        ``call_id`` is the call's row id (``HOTLINE_CALL_ID``) or the citizen channel's
        uniqueid; ``entry`` a ``DirectoryEntry``/``Target``, or a directory id or number.
        ``number`` dials one of the entry's numbers other than its main one. Returns once the
        PBX accepted both moves. Raises NoSuchCall, NotBridgeable, BridgeError; on any of them
        nothing changed on the call.
        """
        target = await self._target(entry)
        numbers = [target.number, *[n for n in target.fallback_numbers if n != target.number]]
        if number is not None:
            if number not in numbers:
                raise NotBridgeable(f"{number} is not a number of {target.name}",
                                    {"number": number, "numbers": numbers})
            numbers.remove(number)
            numbers.insert(0, number)
        live = await self._live_call(call_id)
        if self.room_of(live["call_id"]) is not None:
            raise NotBridgeable("the call is already in a bridge room",
                                {"call_id": live["call_id"]})
        room = Room(name=room_name(live["call_id"]), call_id=live["call_id"],
                    call_uniqueid=live["uniqueid"], citizen_channel=live["channel"],
                    agent_channel=live["agent_channel"], agent_uniqueid=live["agent_uniqueid"],
                    agent_code=live["agent_code"], entry_id=target.id, entry_name=target.name,
                    numbers=numbers)
        self._rooms[room.name] = room
        self._by_call[room.call_id] = room
        try:
            await self.ami.action(
                "Redirect", Channel=room.citizen_channel, ExtraChannel=room.agent_channel,
                Context=_CTX_CITIZEN, Exten=room.name, Priority="1",
                ExtraContext=_CTX_AGENT, ExtraExten=room.name, ExtraPriority="1")
        except AMIError as e:
            self._forget(room)
            raise NotBridgeable(f"the PBX refused to move the call: {e}",
                                {"call_id": room.call_id}) from None
        started = self.now()
        self._write(room, self._open_rows, room, started)
        leg = self._dial(room, numbers[0])
        _log.info("bridge {room}: call {uniqueid} with {agent} to {name} {number}",
                  room=room.name, uniqueid=room.call_uniqueid, agent=room.agent_code,
                  name=target.name, number=leg.number)
        # The hangup handler of the agent's leg needs the citizen's channel (dialplan).
        self._fire(self.ami.action("Setvar", Channel=room.agent_channel,
                                   Variable=v.HOTLINE_CITIZEN_CHANNEL,
                                   Value=room.citizen_channel), room, "Setvar")
        self._updated(room)
        return BridgeAttempt(room=room, leg=leg)

    async def try_fallback(self, call_id: int | str) -> DepartmentLeg:
        """Dial the entry's next untried number into the call's room (the agent's choice).

        Raises NoRoom (no room, or a department already rings or talks), NotBridgeable (no
        number left).
        """
        room = self._room_or_raise(call_id)
        leg = room.leg
        if leg is not None and leg.outcome in (None, ANSWERED) and not _gone(leg):
            raise NoRoom("a department is already ringing or in the room",
                         {"room": room.name, "number": leg.number})
        left = room.numbers_left()
        if not left:
            raise NotBridgeable(f"{room.entry_name} has no other number to try",
                                {"room": room.name})
        leg = self._dial(room, left[0])
        self._updated(room)
        return leg

    async def leave(self, call_id: int | str) -> None:
        """The agent leaves; citizen and department go on. Refused until the department joined."""
        room = self._room_or_raise(call_id)
        if not room.in_room("department"):
            raise NoRoom("the department is not in the room yet: the citizen would be alone",
                         {"room": room.name})
        channel = room.joined_as.get("agent", room.agent_channel)
        try:
            await self.ami.action("ConfbridgeKick", Conference=room.name, Channel=channel)
        except AMIError as e:
            raise NoRoom(f"the agent is not in the room: {e}",
                         {"room": room.name, "channel": channel}) from None

    async def drop_department(self, call_id: int | str) -> None:
        """Release the department's leg; citizen and agent talk on, two-way, in the room."""
        room = self._room_or_raise(call_id)
        leg = room.leg
        if leg is None or leg.outcome not in (None, ANSWERED) or _gone(leg):
            raise NoRoom("no department leg to drop", {"room": room.name})
        leg.dropped = True
        await self.ami.action("Hangup", Channel=leg.channel or leg.uniqueid, Cause="16")
        self._updated(room)

    def call_finalised(self, call_id: int) -> defer.Deferred[int]:
        """The finaliser's listener: a call's ticket exists now; write its bridges on it."""
        return self.db.run(records.note_call_bridges, call_id, zone=self.zone)

    # -- the department's leg -----------------------------------------------------------------

    def _dial(self, room: Room, number: str) -> DepartmentLeg:
        leg = DepartmentLeg(number=number, uniqueid=f"{room.name}-d{len(room.legs) + 1}")
        room.legs.append(leg)
        self._legs[leg.uniqueid] = (room, leg)
        self._fire(self.ami.action(
            "Originate", Channel=f"PJSIP/{number}@{self.trunk}", Context=_CTX_DEPARTMENT,
            Exten=room.name, Priority="1", Timeout=str(int(self.ring_timeout_s * 1000)),
            CallerID=f"<{self.caller_id}>", Async="true", ChannelId=leg.uniqueid,
            Variable=[f"{v.HOTLINE_CITIZEN_CHANNEL}={room.citizen_channel}",
                      f"{v.HOTLINE_BRIDGE_NUMBER}={number}",
                      f"{v.HOTLINE_CALL_ID}={room.call_id}"]),
            room, "Originate", on_error=lambda: self._leg_settled(room, leg))
        self._write(room, self._department_row, room, leg)
        return leg

    def _ringing(self, e: LegRinging) -> None:
        found = self._legs.get(e.uniqueid)
        if found is None:
            return
        room, leg = found
        leg.channel = e.channel or leg.channel
        if not leg.rang:
            leg.rang = True
            leg.ringing.callback(self.reactor.seconds())
            _log.info("bridge {room}: {number} rings", room=room.name, number=leg.number)
            self._updated(room)

    def _answered(self, e: LegAnswered) -> None:
        found = self._legs.get(e.uniqueid)
        if found is not None:
            found[1].channel = e.channel or found[1].channel
            found[1].answered = True

    def _originate_response(self, e: OriginateResult) -> None:
        found = self._legs.get(e.uniqueid)
        if found is None or e.success:
            return
        room, leg = found
        leg.reason = e.reason or 0
        self._later(_SETTLE_S, self._leg_settled, room, leg)

    def _recording(self, e: RecordingStarted) -> None:
        if e.what == "department":
            found = self._legs.get(e.uniqueid)
            if found is not None:
                found[1].recording = e.path
        else:
            room = self._rooms.get(os.path.basename(e.path).rsplit("-room.wav", 1)[0])
            if room is not None and not room.recording:
                room.recording = e.path

    def _updated(self, room: Room) -> None:
        """Tell the bus the room looks different now (the console's panel follows it)."""
        room.version += 1
        self.bus.publish(RoomUpdated(room))

    def _leg_settled(self, room: Room, leg: DepartmentLeg) -> None:
        """A leg that will never join the room: name why, tell the room, try the next number."""
        if leg.outcome is not None or leg.joined:
            return
        leg.outcome = outcome_of(cause=leg.cause, reason=leg.reason, rang=leg.rang)
        at = self.now()
        _log.info("bridge {room}: {number} {outcome} (cause {cause}, reason {reason})",
                  room=room.name, number=leg.number, outcome=leg.outcome, cause=leg.cause,
                  reason=leg.reason)
        self._write(room, lambda s: records.department_ended(
            s, leg.participant_id, outcome=leg.outcome, at=at) if leg.participant_id else None)
        if not leg.ringing.called:
            leg.ringing.errback(_LegFailed(leg.outcome))
            leg.ringing.addErrback(lambda f: None)
        try:
            self._after_failure(room, leg)
        finally:
            # Last: whoever awaits it sees the fallback already dialled.
            leg.done.callback(leg.outcome)
            self._updated(room)

    def _after_failure(self, room: Room, leg: DepartmentLeg) -> None:
        assert leg.outcome is not None
        if room.ended or room.citizen_gone:
            return
        if room.outcome != ANSWERED:
            room.outcome = leg.outcome
        left = room.numbers_left()
        fallback = self.auto_fallback and bool(left) and leg.outcome in FAILURES
        self._notice(room, NOTICE_PROMPT[leg.outcome], "bridge-fallback" if fallback else None)
        if fallback:
            self._dial(room, left[0])
        elif not room.in_room("agent") and room.members:
            # The agent left before anyone answered: nobody is coming for the citizen.
            self._requeue(room)

    # -- the room -----------------------------------------------------------------------------

    def _role(self, room: Room, uid: str, channel: str) -> str | None:
        if uid == room.call_uniqueid or channel == room.citizen_channel:
            return "citizen"
        if uid == room.agent_uniqueid or channel == room.agent_channel:
            return "agent"
        if uid in self._legs:
            return "department"
        return None

    def _room_changed(self, e: RoomChanged) -> None:
        room = self._rooms.get(e.room)
        if room is None:
            return
        if e.change is RoomChange.JOINED:
            self._join(room, e.uniqueid, e.channel)
        elif e.change is RoomChange.LEFT:
            self._leave(room, e.uniqueid)
        else:
            self._finish(room)
        self._updated(room)

    def _join(self, room: Room, uid: str, channel: str) -> None:
        role = self._role(room, uid, channel)
        if role is None:
            return
        room.members[uid] = role
        room.joined_as[role] = channel
        at = self.now()
        if role == "department":
            leg = self._legs[uid][1]
            leg.joined = True
            leg.outcome = ANSWERED
            room.outcome = ANSWERED
            if not leg.done.called:
                leg.done.callback(ANSWERED)
            if room.citizen_gone:
                self._fire(self.ami.action("Hangup", Channel=channel, Cause="16"), room, "Hangup")
            self._write(room, lambda s: records.joined(s, leg.participant_id, at, channel)
                        if leg.participant_id else None)
            self._write(room, lambda s: records.set_outcome(s, room.bridge_id, ANSWERED))
        else:
            self._write(room, lambda s: records.joined(
                s, room.participant_ids[role], at, channel))
        _log.info("bridge {room}: {role} joined", room=room.name, role=role)

    def _leave(self, room: Room, uid: str) -> None:
        role = room.members.pop(uid, None)
        if role is None:
            return
        at = self.now()
        if role == "department":
            leg = self._legs[uid][1]
            self._write(room, lambda s: records.left(s, leg.participant_id, at)
                        if leg.participant_id else None)
            if not leg.dropped and room.in_room("citizen") and room.in_room("agent"):
                self._notice(room, "bridge-department-left")
        else:
            self._write(room, lambda s: records.left(s, room.participant_ids[role], at))
        if role == "citizen":
            room.citizen_gone = True
            for leg in room.legs:
                if not leg.joined and leg.outcome is None:
                    # Nobody to bridge for any more: release the ringing department.
                    self._fire(self.ami.action("Hangup", Channel=leg.channel or leg.uniqueid,
                                               Cause="16"), room, "Hangup")
        _log.info("bridge {room}: {role} left", room=room.name, role=role)

    def _hangup(self, e: LegEnded) -> None:
        uid = e.uniqueid
        found = self._legs.get(uid)
        if found is not None:
            room, leg = found
            leg.cause = e.cause or None
            if not leg.joined:
                self._later(_SETTLE_S, self._leg_settled, room, leg)
            self._updated(room)
            return
        room = self._by_call_uid(uid)
        if room is not None:
            room.citizen_gone = True
            for leg in room.legs:
                if not leg.joined and leg.outcome is None:
                    self._fire(self.ami.action("Hangup", Channel=leg.channel or leg.uniqueid,
                                               Cause="16"), room, "Hangup")
            # A room the citizen never reached sends no ConfbridgeEnd: end it anyway.
            self._later(2.0, self._finish, room)
            self._updated(room)

    def _by_call_uid(self, uid: str) -> Room | None:
        for room in self._rooms.values():
            if room.call_uniqueid == uid and not room.ended:
                return room
        return None

    def _finish(self, room: Room) -> None:
        if room.ended:
            return
        room.ended = True
        at = self.now()
        outcome = room.outcome
        recording = room.recording
        _log.info("bridge {room} ended: {outcome}", room=room.name, outcome=outcome)

        async def rows() -> None:
            # Files close when their channels go: give them a moment before reading sizes.
            await _sleep(self.reactor, 1.0)
            files = await threads.deferToThreadPool(
                self.reactor, self.db.pool, _stat_files, room, self.host_path)
            await self.db.run(_end_rows, room=room, at=at, outcome=outcome,
                              recording=self.host_path(recording) if recording else None,
                              files=files, zone=self.zone)

        self._write(room, lambda s: None)  # keep order: after every earlier write
        chain = self._chains.get(room.name)
        assert chain is not None
        chain.addCallback(lambda _: defer.ensureDeferred(rows()))
        chain.addErrback(lambda f: _log.failure("bridge {room}: cannot close its rows", f,
                                                room=room.name))

        def forget(_: Any) -> None:
            self._forget(room)
            room.ended_d.callback(None)
            self._updated(room)
        chain.addBoth(forget)

    def _forget(self, room: Room) -> None:
        self._rooms.pop(room.name, None)
        if self._by_call.get(room.call_id) is room:
            del self._by_call[room.call_id]
        for leg in room.legs:
            self._legs.pop(leg.uniqueid, None)
        self._chains.pop(room.name, None)

    def _notice(self, room: Room, prompt: str, prompt2: str | None = None) -> None:
        """Play a prompt into the room: the agent hears why, the citizen hears the line alive."""
        variables = [f"NOTICE={prompt}", f"NOTICE2={prompt2 or ''}"]
        self._fire(self.ami.action(
            "Originate", Channel=f"Local/{room.name}@{_CTX_NOTICE}/n", Context=_CTX_SAY,
            Exten="s", Priority="1", Async="true", Timeout="5000", Variable=variables),
            room, "Originate notice")

    def _requeue(self, room: Room) -> None:
        _log.info("bridge {room}: citizen alone, back to the queue", room=room.name)
        self._fire(self.ami.action("Redirect", Channel=room.citizen_channel,
                                   Context=_CTX_REQUEUE, Exten="s", Priority="1"),
                   room, "Redirect to the queue")

    # -- rows ---------------------------------------------------------------------------------

    def _open_rows(self, session: Any, room: Room, started: dt.datetime) -> None:
        bridge_id, ids = records.open_bridge(
            session, call_id=room.call_id, hotline_id=room.entry_id, room=room.name,
            started_at=started, agent_code=room.agent_code,
            citizen_channel=room.citizen_channel, agent_channel=room.agent_channel,
            entry_name=room.entry_name)
        room.bridge_id = bridge_id
        room.participant_ids.update(ids)

    def _department_row(self, session: Any, room: Room, leg: DepartmentLeg) -> None:
        assert room.bridge_id is not None
        leg.participant_id = records.add_department(
            session, room.bridge_id, number=leg.number, channel=leg.channel)

    def _write(self, room: Room, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(session, *args)`` after the room's earlier writes (ids come from those)."""
        chain = self._chains.get(room.name)
        if chain is None:
            chain = self._chains[room.name] = defer.succeed(None)
        chain.addCallback(lambda _: self.db.run(fn, *args))
        chain.addErrback(lambda f: _log.failure("bridge {room}: a write failed", f,
                                                room=room.name))

    def _fire(self, d: Any, room: Room, what: str,
              on_error: Callable[[], None] | None = None) -> None:
        d = defer.ensureDeferred(d) if not isinstance(d, defer.Deferred) else d

        def failed(f: Any) -> None:
            _log.warn("bridge {room}: {what} failed: {error}", room=room.name, what=what,
                      error=f.getErrorMessage())
            if on_error is not None:
                on_error()
        d.addErrback(failed)

    def _later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        self._timers = [t for t in self._timers if t.active()]
        self._timers.append(self.reactor.callLater(seconds, fn, *args))

    # -- finding the call and the entry -------------------------------------------------------

    def _room_or_raise(self, call_id: int | str) -> Room:
        room = self.room_of(call_id)
        if room is None:
            raise NoRoom(f"call {call_id} is in no bridge room", {"call_id": str(call_id)})
        return room

    async def _target(self, entry: Any) -> Target:
        if not isinstance(entry, int | str):
            return Target.of(entry)
        text = str(entry).strip()

        def find(session: Any) -> Target | None:
            query = select(MunicipalHotline)
            row = None
            if text.isdigit() and len(text) < 8:
                row = session.get(MunicipalHotline, int(text))
            if row is None:
                row = session.scalars(query.where(MunicipalHotline.number == text)).first()
            if row is None:
                return None
            return Target(id=row.id, name=row.name, number=row.number,
                          fallback_numbers=tuple(row.fallback_numbers or ()))
        target = await self.db.run(find)
        if target is None:
            raise NoSuchEntry(f"no directory entry {text!r} (give its id or its number)",
                         {"entry": text})
        return target

    async def _live_call(self, call_id: int | str) -> dict[str, Any]:
        """The call's row id, citizen channel and agent channel, from the live view."""
        key = str(call_id).strip()
        if self.tracker is not None:
            for call in self.tracker.calls.values():
                if key in (call.hotline_call_id, call.uniqueid):
                    if call.state != "talking" or not call.agent_channel:
                        raise NotBridgeable(f"call {key} is {call.state}, not talking with an "
                                            "agent", {"call_id": key, "state": call.state})
                    row_id = call.hotline_call_id or await self._row_id(call.uniqueid)
                    return {"call_id": int(row_id), "uniqueid": call.uniqueid,
                            "channel": call.channel, "agent_channel": call.agent_channel,
                            "agent_uniqueid": call.agent_uniqueid,
                            "agent_code": _agent_code(call.agent_interface, call.agent_name)}
            raise NoSuchCall(f"no live call {key}", {"call_id": key})
        return await self._live_call_over_ami(key)

    async def _row_id(self, uniqueid: str) -> int:
        row_id = await self.db.run(lambda s: s.scalars(
            select(Call.id).where(Call.uniqueid == uniqueid)).first())
        if row_id is None:
            raise NoSuchCall(f"call {uniqueid} has no row", {"call_id": uniqueid})
        return int(row_id)

    async def _live_call_over_ami(self, key: str) -> dict[str, Any]:
        def find(session: Any) -> tuple[int, str] | None:
            query = select(Call.id, Call.uniqueid)
            row = session.execute(query.where(Call.uniqueid == key)).first()
            if row is None and key.isdigit():
                row = session.execute(query.where(Call.id == int(key))).first()
            return (int(row[0]), str(row[1])) if row else None
        found = await self.db.run(find)
        if found is None:
            raise NoSuchCall(f"no call {key}", {"call_id": key})
        row_id, uniqueid = found
        reply = await self.ami.action("CoreShowChannels")
        channels = [m for m in (reply if isinstance(reply, list) else [reply])
                    if m.get("Event") == "CoreShowChannel"]
        citizen = next((m for m in channels if m.get("Uniqueid") == uniqueid), None)
        if citizen is None:
            raise NoSuchCall(f"call {key} is not live", {"call_id": key})
        bridge_id = citizen.get("BridgeId")
        agent = next((m for m in channels if bridge_id and m.get("BridgeId") == bridge_id
                      and m is not citizen), None)
        if agent is None or (citizen.get("Application") or "").lower() != "queue":
            raise NotBridgeable(f"call {key} is not talking with an agent", {"call_id": key})
        name = agent.get("Channel") or ""
        return {"call_id": row_id, "uniqueid": uniqueid, "channel": citizen.get("Channel"),
                "agent_channel": name, "agent_uniqueid": agent.get("Uniqueid"),
                "agent_code": _agent_code(name.rsplit("-", 1)[0], None)}


class _LegFailed(Exception):
    """The department's leg never rang; the outcome names why."""


def _gone(leg: DepartmentLeg) -> bool:
    return leg.joined and leg.cause is not None


def _agent_code(interface: str | None, name: str | None) -> str | None:
    return agent_code(interface, name)


def _stat_files(room: Room, host_path: Callable[[str], str]) -> list[tuple[str, int]]:
    """The department legs' own-voice files (the call's "room" speaker), with sizes."""
    out = []
    for leg in room.legs:
        if not leg.recording:
            continue
        path = host_path(leg.recording + "-department.wav")
        try:
            out.append((path, os.stat(path).st_size))
        except OSError:
            continue
    return out


def _end_rows(session: Any, *, room: Room, at: dt.datetime, outcome: str | None,
              recording: str | None, files: Sequence[tuple[str, int]], zone: str) -> None:
    from db.models import CallRecording

    if room.bridge_id is None:
        return
    records.end_bridge(session, room.bridge_id, at=at, outcome=outcome, recording_path=recording)
    for path, size in files:
        session.add(CallRecording(call_id=room.call_id, direction="room", path=path,
                                  size_bytes=size))
    session.flush()
    records.note_on_ticket(session, room.bridge_id, zone=zone)


async def _sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)

