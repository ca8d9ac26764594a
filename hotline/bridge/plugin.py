# -*- test-case-name: tests.web.test_bridge_api -*-
"""Wire the three-way bridge: the service on the live call tracker's events, its rows written
on the ticket once a call is final, ``/api/bridge`` and the desk's ``bridge`` pushes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from hotline.bridge import http, records
from hotline.bridge.events import RoomUpdated
from hotline.bridge.service import BridgeService
from hotline.bridge.views import room_for, room_view

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies
    from hotline.web.app import WebConsole
    from hotline.web.events import StreamClient

__all__ = ["load", "RoomStream"]

_log = Logger(namespace="hotline.bridge.plugin")


def load(deps: Dependencies) -> None:
    """Build and subscribe the bridge service when the calls are followed; register its routes
    and the desk's room pushes."""
    if deps.bridge is None and deps.ami is not None and deps.tracker is not None:
        deps.bridge = BridgeService(config=deps.config, ami=deps.ami, db=deps.db,
                                    reactor=deps.reactor, tracker=deps.tracker, bus=deps.bus,
                                    host_path=deps.host_path)
        if deps.peers:
            # Several PBXs: a bridge acts on the PBX that holds the call.
            from hotline.bridge.cluster import cluster_bridge

            deps.bridge = cluster_bridge(deps, deps.bridge)
        deps.bridge.subscribe()
        if deps.finaliser is not None:
            # In the call's own final unit of work: its ticket exists by then.
            zone = deps.bridge.zone
            deps.finaliser.add_step(
                lambda session, call: records.note_call_bridges(session, call.id, zone=zone),
                guarded=False)
    if deps.console is not None:
        http.register(deps.console.router)
        RoomStream(console=deps.console).start(deps)


class RoomStream:
    """Pushes a room's panel (``room_view``, what ``GET /api/bridge`` returns) to the desks of
    the seat that bridged it, whenever the bridge service says the room changed."""

    def __init__(self, *, console: WebConsole) -> None:
        self.console = console
        #: The view last pushed, by room name, without its version (a change that shows nothing
        #: new is not sent).
        self._last: dict[str, dict[str, Any]] = {}

    def start(self, deps: Dependencies) -> None:
        deps.bus.subscribe(RoomUpdated, self._updated)
        self.console.events.on_open(self._opened)

    def _opened(self, client: StreamClient) -> None:
        bridge = self.console.bridge
        if bridge is not None and client.seat:
            # A reloaded page gets its three-way call back at once.
            room = room_for(bridge, self.console.calls, client.seat)
            if room is not None:
                client.send("bridge", room_view(room))

    def _updated(self, event: RoomUpdated) -> None:
        room = event.room
        try:
            view = room_view(room)
        except Exception:
            _log.failure("bridge room {room}: cannot show it", room=room.name)
            return
        shown = {k: v for k, v in view.items() if k != "version"}
        if shown != self._last.get(room.name):
            self._last[room.name] = shown
            self.console.events.to_seat(room.agent_code, "bridge", view)
        if room.ended and room.ended_d.called:
            self._last.pop(room.name, None)
