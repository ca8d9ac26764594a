# -*- test-case-name: tests.web.test_browser -*-
"""Server-Sent Events for the desk: the caller pops the moment the agent's phone rings.

One listener on the call notifier (``hotline.calls.notifier.CallNotifier``, fed by AMI events)
fans out to every open ``/api/events`` stream; nothing polls. Per stream:

- ``pop``: a call rings (or is already talking) at the user's own seat, with who is calling
  (``api.caller_view``: repeat flag, open tickets, history, last contacts). The lookup runs once
  per call whatever the number of streams.
- ``call``: a call changed (the payload the REST ``/api/calls`` returns, same serialisation).
- ``agent``: the user's own seat changed state (free, ringing, talking, paused).
- ``bridge``: the three-way call of the user's own seat changed: who joined, rings, left, how
  a department's number failed (``hotline.web.rooms.room_view``, what ``GET /api/bridge``
  returns). The bridge service keeps the rooms; this module reads them after the service has
  handled the AMI event (``ConfbridgeJoin``/``Leave``/``End``, ``Newstate``, ``Hangup``,
  ``OriginateResponse``: one ``callLater(0)`` later) and when a leg's ``ringing``/``done`` or a
  room's ``ended_d`` fires (failures are named on the service's own timer). Nothing polls.
- ``callback``: a callback the user dialled from the desk (回拨): ``dialling`` once its attempt
  is claimed, ``ended`` with the attempt's outcome and the callback's status once recorded.
- ``transcript``: the speech-to-text job of a call at the user's seat ended
  (``hotline.web.transcripts``: the dialog with speaker labels, or why it failed).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, task
from twisted.logger import Logger
from twisted.web.server import Request

from hotline.agents.service import interface_of
from hotline.web.api import caller_view
from hotline.web.auth import token_hash
from hotline.web.roles import DESK
from hotline.web.rooms import room_for, room_view
from hotline.web.routing import SECURITY_HEADERS, STREAMING, Ctx, HTTPError, Router
from hotline.web.transcripts import transcript_of_call

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["EventStream"]

_log = Logger(namespace="hotline.web.events")

#: The AMI events after which a bridge room may look different.
BRIDGE_EVENTS = ("ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd", "Newstate", "Hangup",
                 "OriginateResponse")


class _Client:
    def __init__(self, request: Request, username: str, seat: str | None,
                 session: str | None = None) -> None:
        self.request = request
        self.username = username
        self.seat = seat
        #: The console session (token hash) that opened the stream: it ends with it.
        self.session = session
        self.interface = interface_of(seat) if seat else None
        self.popped: set[str] = set()
        self.open = True

    def send(self, event: str, data: Any) -> None:
        if not self.open:
            return
        body = json.dumps(data, ensure_ascii=False, default=str)
        self.request.write(f"event: {event}\ndata: {body}\n\n".encode())


class EventStream:
    """The ``/api/events`` streams of one console."""

    KEEPALIVE_S = 15.0
    MAX_CLIENTS = 500
    #: Streams one user may hold open (every tab of the desk or the wall board holds one).
    MAX_PER_USER = 6

    def __init__(self, console: WebConsole) -> None:
        self.console = console
        self.clients: list[_Client] = []
        self._remove_listener: Any = None
        self._keepalive: task.LoopingCall | None = None
        self._lookups: dict[str, defer.Deferred[dict[str, Any]]] = {}
        #: Bridge rooms followed: name -> (room, the view last pushed).
        self._rooms: dict[str, tuple[Any, dict[str, Any] | None]] = {}
        #: Per room, the ids of its Deferreds already hooked.
        self._hooked: dict[str, set[int]] = {}
        self._bridge_subs: list[Any] = []
        self._sync_call: Any = None
        self._remove_transcribed: Any = None

    def register(self, router: Router) -> None:
        router.add("GET", "/api/events", self._open, roles=DESK)

    def start(self) -> None:
        if self.console.notifier is not None and self._remove_listener is None:
            self._remove_listener = self.console.notifier.add_listener(self._on_change)
        self._keepalive = task.LoopingCall(self._ping)
        self._keepalive.clock = self.console.reactor
        self._keepalive.start(self.KEEPALIVE_S, now=False)
        bridge = self.console.bridge
        if bridge is not None and not self._bridge_subs:
            self._bridge_subs = [bridge.ami.subscribe(name, self._on_bridge_event)
                                 for name in BRIDGE_EVENTS]
        stt = self.console.stt
        if stt is not None and self._remove_transcribed is None:
            self._remove_transcribed = stt.on_transcribed(self._on_transcribed)

    def stop(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._remove_transcribed is not None:
            self._remove_transcribed()
            self._remove_transcribed = None
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        for sub in self._bridge_subs:
            sub.unsubscribe()
        self._bridge_subs = []
        if self._sync_call is not None and self._sync_call.active():
            self._sync_call.cancel()
        self._sync_call = None
        self._rooms.clear()
        self._hooked.clear()
        self.end(lambda client: True)

    @property
    def max_per_user(self) -> int:
        """Streams one user may hold open (``[web] max_streams_per_user``)."""
        return int(self.console.config["web"]["max_streams_per_user"])

    def admit(self, user: Any) -> None:
        """Refuse one more stream when the console, or this user, holds too many already."""
        if len(self.clients) >= self.MAX_CLIENTS:
            raise HTTPError(503, "too-many-streams", "too many open event streams")
        mine = sum(1 for c in self.clients if c.username == user.username and c.open)
        if mine >= self.max_per_user:
            raise HTTPError(429, "too-many-streams",
                            f"至多同时打开 {self.max_per_user} 个实时页面 (at most "
                            f"{self.max_per_user} open event streams per user; close a tab)",
                            {"limit": self.max_per_user})

    def end(self, which: Any) -> int:
        """Close every stream ``which(client)`` picks (its session ended, the console stops);
        returns how many."""
        ended = 0
        for client in [c for c in self.clients if which(c)]:
            client.open = False
            if client in self.clients:
                self.clients.remove(client)
            request = client.request
            # A connection lost while its channel was paused is never reported to
            # notifyFinish (Twisted's documented caveat), and finish() then raises: only live
            # streams are finished.
            if not request.finished and not getattr(request, "_disconnected", False):
                request.finish()
            ended += 1
        return ended

    # -- streams ---------------------------------------------------------------------------------

    async def _open(self, ctx: Ctx) -> object:
        if self.console.notifier is None:
            raise HTTPError(503, "not-available", "the live call view is not connected")
        user = ctx.user
        assert user is not None
        self.admit(user)
        request = ctx.request
        request.setResponseCode(200)
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        client = _Client(request, user.username, user.agent_code, token_hash(user.token))
        self.clients.append(client)

        def gone(_: object) -> None:
            client.open = False
            if client in self.clients:
                self.clients.remove(client)

        request.notifyFinish().addBoth(gone)
        request.write(b"retry: 2000\n\n")
        client.send("hello", {"seat": user.agent_code, "interface": client.interface})
        if self.console.calls is not None:
            for call in self.console.calls.live_calls():
                self._deliver(client, call)
        bridge = self.console.bridge
        if bridge is not None and user.agent_code:
            # A reloaded page gets its three-way call back at once.
            room = room_for(bridge, self.console.calls, user.agent_code)
            if room is not None:
                self._follow(room)
                client.send("bridge", room_view(room))
        return STREAMING

    def _ping(self) -> None:
        for client in list(self.clients):
            if client.open:
                client.request.write(b": keepalive\n\n")

    # -- notifier --------------------------------------------------------------------------------

    def _on_change(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind in ("call_updated", "call_removed"):
            call = payload["call"]
            for client in list(self.clients):
                self._deliver(client, call)
            if kind == "call_removed":
                self._lookups.pop(call["uniqueid"], None)
        elif kind in ("agent_updated", "agent_removed"):
            agent = payload["agent"]
            for client in list(self.clients):
                if client.interface == agent["interface"]:
                    client.send("agent", agent)
        elif kind == "resynced":
            for call in payload.get("calls", []):
                for client in list(self.clients):
                    self._deliver(client, call)

    # -- bridge rooms ----------------------------------------------------------------------------

    def bridge_changed(self, room: Any) -> None:
        """The console acted on ``room`` (bridge, leave, drop, fallback): follow it and push
        what changed on the next turn of the reactor."""
        self._follow(room)
        self._sync_soon()

    def _on_bridge_event(self, m: Any) -> None:
        name = (m.get("Event") or "").lower()
        if name.startswith("confbridge"):
            relevant = (m.get("Conference") or "").startswith("hb")
        elif name == "hangup":
            relevant = bool(self._rooms) or (m.get("Uniqueid") or "").startswith("hb")
        else:  # Newstate, OriginateResponse of a department's leg (ChannelId = room name-dN)
            relevant = (m.get("Uniqueid") or "").startswith("hb")
        if relevant:
            self._sync_soon()

    def _sync_soon(self) -> None:
        # After every subscriber of this AMI event ran: the bridge service has updated its room.
        if self._sync_call is None or not self._sync_call.active():
            self._sync_call = self.console.reactor.callLater(0, self._sync)

    def _follow(self, room: Any) -> None:
        if room.name not in self._rooms:
            self._rooms[room.name] = (room, None)
            self._hooked[room.name] = set()

    def _hook(self, room: Any) -> None:
        """Push again when a leg rings or is settled, or the room ends: the service decides
        those on its own timers, not on an AMI event we see."""
        hooked = self._hooked.setdefault(room.name, set())
        for d in (room.ended_d, *[x for leg in room.legs for x in (leg.ringing, leg.done)]):
            if id(d) not in hooked:
                hooked.add(id(d))
                d.addBoth(self._passthrough)

    def _passthrough(self, result: Any) -> Any:
        self._sync_soon()
        return result

    def _sync(self) -> None:
        self._sync_call = None
        bridge = self.console.bridge
        if bridge is None:
            return
        live = {room.name for room in bridge.rooms()}
        for room in bridge.rooms():
            self._follow(room)
        for name, (room, last) in list(self._rooms.items()):
            try:
                self._hook(room)
                view = room_view(room)
            except Exception:
                _log.failure("bridge room {room}: cannot show it", room=name)
                del self._rooms[name]
                self._hooked.pop(name, None)
                continue
            if view != last:
                self._rooms[name] = (room, view)
                for client in list(self.clients):
                    if client.seat is not None and client.seat == room.agent_code:
                        client.send("bridge", view)
            if room.ended or name not in live:
                del self._rooms[name]
                self._hooked.pop(name, None)

    # -- callbacks dialled from the desk, transcripts ---------------------------------------------

    def _to_seat(self, seat: str | None, event: str, data: Any) -> None:
        for client in list(self.clients):
            if seat and client.seat == seat:
                client.send(event, data)

    def callback_dialling(self, started: Any) -> None:
        """A callback was dialled from the desk (``CallbackScheduler.dial_now``): tell the
        agent's desks now, and again with the outcome once it is recorded."""
        seat = started.agent_code
        base = {"id": started.callback_id, "attempt": started.key,
                "ticket": started.ticket_number, "ticket_id": started.ticket_id}
        self._to_seat(seat, "callback", {**base, "state": "dialling"})

        def ended(result: Any) -> Any:
            d = self.console.db.run(_callback_state, started.callback_id)
            d.addCallback(lambda row: self._to_seat(seat, "callback", {
                **base, **row, "state": "ended", "outcome": result.outcome,
                "detail": result.detail}))
            return d

        def failed(failure: Any) -> None:
            _log.failure("callback {id}: attempt {key} dialled from the desk failed", failure,
                         id=started.callback_id, key=started.key)
            self._to_seat(seat, "callback", {**base, "state": "error",
                                             "message": "回拨出错 (the attempt failed; logged)"})
        started.ended.addCallbacks(ended, failed)
        started.ended.addErrback(lambda f: _log.failure(
            "callback {id}: cannot show the outcome", f, id=started.callback_id))

    def _on_transcribed(self, call_id: int, transcript_id: int, status: str) -> None:
        """The speech-to-text service stored (or gave up) a call's transcript: push it to
        the desks of the seat that took the call."""
        d = self.console.db.run(transcript_of_call, call_id)

        def push(view: dict[str, Any] | None) -> None:
            if view is not None and view["agent"]:
                self._to_seat(view["agent"], "transcript", view)
        d.addCallback(push)
        d.addErrback(lambda f: _log.failure("transcript of call {id}: cannot push it", f,
                                            id=call_id))

    def _deliver(self, client: _Client, call: dict[str, Any]) -> None:
        client.send("call", call)
        agent = call.get("agent") or {}
        mine = client.interface is not None and agent.get("interface") == client.interface
        if mine and call["state"] in ("ringing", "talking") \
                and call["uniqueid"] not in client.popped:
            client.popped.add(call["uniqueid"])
            self._pop(client, call)

    def _pop(self, client: _Client, call: dict[str, Any]) -> None:
        uniqueid = call["uniqueid"]
        lookup = self._lookups.get(uniqueid)
        if lookup is None:
            lookup = self._lookups[uniqueid] = self.console.db.run(
                caller_view, call.get("caller") or "")
        shared: defer.Deferred[dict[str, Any]] = defer.Deferred()
        lookup.addCallback(lambda info: (shared.callback(info), info)[1])
        lookup.addErrback(lambda f: (shared.errback(f), None)[1])

        def send(info: dict[str, Any]) -> None:
            client.send("pop", {"call": call, "caller": info,
                                "sent_at": self.console.reactor.seconds()})

        def failed(failure: Any) -> None:
            _log.failure("caller lookup for call {uniqueid} failed", failure, uniqueid=uniqueid)
            client.send("pop", {"call": call, "caller": None,
                                "sent_at": self.console.reactor.seconds()})

        shared.addCallbacks(send, failed)


def _callback_state(session: Any, callback_id: int) -> dict[str, Any]:
    from db.models import Callback

    cb = session.get(Callback, callback_id)
    if cb is None:
        return {"status": "gone"}
    return {"status": cb.status, "result": cb.outcome, "attempts": cb.attempts,
            "sla_met": cb.sla_met}
