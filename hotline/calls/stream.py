# -*- test-case-name: tests.web.test_browser -*-
"""The live calls on the desk's event streams: ``call`` for every change, ``pop`` once per call
that rings or talks at the stream's seat (who is calling: repeat flag, open tickets, history),
``agent`` for the seat's own state. Fed by the tracker's L{ViewChanged} events on the bus.

The caller's lookup runs once per call whatever the number of streams, and not at all when the
inbound script's lookup is still fresh (the FastAGI script answered it moments before).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from hotline.calls.events import (
    AgentRemoved,
    AgentStateChanged,
    CallRemoved,
    CallUpdated,
    ViewResynced,
)
from hotline.tickets.http import caller_view

if TYPE_CHECKING:
    from hotline.bus import EventBus
    from hotline.web.app import WebConsole
    from hotline.web.events import StreamClient

__all__ = ["CallStream"]

_log = Logger(namespace="hotline.calls.stream")


class CallStream:
    """Pushes the live view to a console's desk streams."""

    def __init__(self, *, console: WebConsole, bus: EventBus) -> None:
        self.console = console
        self.bus = bus
        self._lookups: dict[str, defer.Deferred[dict[str, Any]]] = {}
        self._subs: list[Any] = []

    def start(self) -> None:
        """Subscribe to the live view's events and show a fresh stream the live calls."""
        if not self._subs:
            self._subs = self.bus.subscribe_all({
                CallUpdated: self._call,
                CallRemoved: self._call_removed,
                AgentStateChanged: self._agent,
                AgentRemoved: self._agent,
                ViewResynced: self._resynced,
            })
            self.console.events.on_open(self._opened)

    def _opened(self, client: StreamClient) -> None:
        calls = self.console.calls
        if calls is not None:
            for call in calls.live_calls():
                self._deliver(client, call)

    def _call(self, event: CallUpdated) -> None:
        for client in list(self.console.events.clients):
            self._deliver(client, event.call)

    def _call_removed(self, event: CallRemoved) -> None:
        self._call(event)  # type: ignore[arg-type] - same shape
        self._lookups.pop(event.call["uniqueid"], None)

    def _agent(self, event: AgentStateChanged | AgentRemoved) -> None:
        self.console.events.to_interface(event.agent["interface"], "agent", event.agent)

    def _resynced(self, event: ViewResynced) -> None:
        for call in event.calls:
            for client in list(self.console.events.clients):
                self._deliver(client, call)

    def _deliver(self, client: StreamClient, call: dict[str, Any]) -> None:
        client.send("call", call)
        agent = call.get("agent") or {}
        mine = client.interface is not None and agent.get("interface") == client.interface
        if mine and call["state"] in ("ringing", "talking") and call["uniqueid"] not in client.seen:
            client.seen.add(call["uniqueid"])
            self._pop(client, call)

    def _pop(self, client: StreamClient, call: dict[str, Any]) -> None:
        uniqueid = call["uniqueid"]
        lookup = self._lookups.get(uniqueid)
        if lookup is None:
            lookup = self._lookups[uniqueid] = self.console.db.run(
                caller_view, call.get("caller") or "")
        shared: defer.Deferred[dict[str, Any]] = defer.Deferred()
        lookup.addCallback(lambda info: (shared.callback(info), info)[1])
        lookup.addErrback(lambda f: (shared.errback(f), None)[1])
        reactor = self.console.reactor

        def send(info: dict[str, Any]) -> None:
            client.send("pop", {"call": call, "caller": info, "sent_at": reactor.seconds()})

        def failed(failure: Any) -> None:
            _log.failure("caller lookup for call {uniqueid} failed", failure, uniqueid=uniqueid)
            client.send("pop", {"call": call, "caller": None, "sent_at": reactor.seconds()})

        shared.addCallbacks(send, failed)
