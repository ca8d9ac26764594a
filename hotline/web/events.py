# -*- test-case-name: tests.web.test_browser -*-
"""Server-Sent Events for the desk: the caller pops the moment the agent's phone rings.

One listener on the call notifier (``hotline.calls.notifier.CallNotifier``, fed by AMI events)
fans out to every open ``/api/events`` stream; nothing polls. Per stream:

- ``pop``: a call rings (or is already talking) at the user's own seat, with who is calling
  (``api.caller_view``: repeat flag, open tickets, history, last contacts). The lookup runs once
  per call whatever the number of streams.
- ``call``: a call changed (the payload the REST ``/api/calls`` returns, same serialisation).
- ``agent``: the user's own seat changed state (free, ringing, talking, paused).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, task
from twisted.logger import Logger
from twisted.web.server import Request

from hotline.agents.service import interface_of
from hotline.web.api import caller_view
from hotline.web.roles import DESK
from hotline.web.routing import SECURITY_HEADERS, STREAMING, Ctx, HTTPError, Router

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["EventStream"]

_log = Logger(namespace="hotline.web.events")


class _Client:
    def __init__(self, request: Request, username: str, seat: str | None) -> None:
        self.request = request
        self.username = username
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

    def __init__(self, console: WebConsole) -> None:
        self.console = console
        self.clients: list[_Client] = []
        self._remove_listener: Any = None
        self._keepalive: task.LoopingCall | None = None
        self._lookups: dict[str, defer.Deferred[dict[str, Any]]] = {}

    def register(self, router: Router) -> None:
        router.add("GET", "/api/events", self._open, roles=DESK)

    def start(self) -> None:
        if self.console.notifier is not None and self._remove_listener is None:
            self._remove_listener = self.console.notifier.add_listener(self._on_change)
        self._keepalive = task.LoopingCall(self._ping)
        self._keepalive.clock = self.console.reactor
        self._keepalive.start(self.KEEPALIVE_S, now=False)

    def stop(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        for client in list(self.clients):
            client.open = False
            if not client.request.finished:
                client.request.finish()
        self.clients.clear()

    # -- streams ---------------------------------------------------------------------------------

    async def _open(self, ctx: Ctx) -> object:
        if self.console.notifier is None:
            raise HTTPError(503, "not-available", "the live call view is not connected")
        if len(self.clients) >= self.MAX_CLIENTS:
            raise HTTPError(503, "too-many-streams", "too many open event streams")
        user = ctx.user
        assert user is not None
        request = ctx.request
        request.setResponseCode(200)
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        client = _Client(request, user.username, user.agent_code)
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
