# -*- test-case-name: tests.cluster.test_routing -*-
"""The three-way bridge over several PBXs: each action goes to the PBX that holds the call.

Why route the action rather than forward the request to the owning controller over HTTP: the
call's PBX is reachable even when its own controller is not (a killed controller leaves its
PBX taking calls, and its agents still need their bridge), and every fact a bridge needs is
already here — the call's channels in the peer's view, the rooms' progress in the peer's
tracker events. So this controller keeps one L{BridgeService} per PBX: its own, and one per
peer made on an acting AMI link of its own to that PBX (owned and closed here, never the
view's read-only link) and on the peer view's tracker and private bus. Rows are written by
whichever service made the room, into the one shared database; recordings are named as that
PBX reports them. The peer's own controller never acts on the room: rooms are known only to
the service that made them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer

from hotline.bridge.events import RoomUpdated
from hotline.bridge.outcomes import NoRoom
from hotline.bridge.rooms import Room
from hotline.bridge.service import BridgeAttempt, BridgeService
from hotline.cluster.links import acting_link
from hotline.cluster.routing import node_holding

if TYPE_CHECKING:
    from hotline.bridge.rooms import DepartmentLeg
    from hotline.dependencies import Dependencies

__all__ = ["ClusterBridge", "cluster_bridge"]


class ClusterBridge:
    """L{BridgeService}'s interface over every PBX: one service per node, chosen per call."""

    def __init__(self, *, own: BridgeService, node: int, peers: dict[int, BridgeService],
                 calls: Any, bus: Any) -> None:
        """
        @param own: the bridge on this node's PBX.
        @param peers: a bridge per other node, each on its own acting link to that PBX.
        @param calls: the merged view (L{hotline.cluster.service.ClusterCallService}).
        @param bus: this controller's bus, where the peers' L{RoomUpdated} are passed on.
        """
        self.own = own
        self.node = node
        self.peers = peers
        self.calls = calls
        self.bus = bus
        self._subs: list[Any] = []

    @property
    def services(self) -> dict[int, BridgeService]:
        return {self.node: self.own, **self.peers}

    @property
    def auto_fallback(self) -> bool:
        return self.own.auto_fallback

    def service_for(self, call_id: int | str) -> BridgeService:
        """The service of the PBX holding the call: the one with its room, else the one whose
        view shows it live, else this node's (which then says it has no such call)."""
        for service in self.services.values():
            if service.room_of(call_id) is not None:
                return service
        node = node_holding(call_id, self.calls.live_calls())
        return self.services.get(node, self.own) if node is not None else self.own

    # -- life ---------------------------------------------------------------------------------

    def subscribe(self) -> None:
        self.own.subscribe()
        for service in self.peers.values():
            service.subscribe()
            if service.bus is not self.bus:
                self._subs.append(service.bus.subscribe(RoomUpdated, self.bus.publish))

    async def start(self) -> None:
        """Open the acting links, follow every PBX's rooms."""
        self.subscribe()
        for service in self.peers.values():
            service.ami.start()
        await self.own.start()

    async def stop(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []
        await self.own.stop()
        for service in self.peers.values():
            await service.stop()
            await service.ami.stop()

    # -- reading ------------------------------------------------------------------------------

    def rooms(self) -> list[Room]:
        return [r for s in self.services.values() for r in s.rooms()]

    def room_of(self, call_id: int | str) -> Room | None:
        for service in self.services.values():
            room = service.room_of(call_id)
            if room is not None:
                return room
        return None

    # -- acting -------------------------------------------------------------------------------

    async def bridge(self, call_id: int | str, entry: Any, *,
                     number: str | None = None) -> BridgeAttempt:
        """L{BridgeService.bridge} on the PBX that holds the call."""
        return await self.service_for(call_id).bridge(call_id, entry, number=number)

    async def try_fallback(self, call_id: int | str) -> DepartmentLeg:
        return await self._with_room(call_id).try_fallback(call_id)

    async def leave(self, call_id: int | str) -> None:
        await self._with_room(call_id).leave(call_id)

    async def drop_department(self, call_id: int | str) -> Any:
        return await self._with_room(call_id).drop_department(call_id)

    def call_finalised(self, call_id: int) -> defer.Deferred[int]:
        """The finaliser's listener (this node's calls: written by this node's service)."""
        return self.own.call_finalised(call_id)

    def _with_room(self, call_id: int | str) -> BridgeService:
        for service in self.services.values():
            if service.room_of(call_id) is not None:
                return service
        raise NoRoom(f"call {call_id} is in no bridge room", {"call_id": str(call_id)})


def cluster_bridge(deps: Dependencies, own: BridgeService) -> ClusterBridge:
    """A L{ClusterBridge} over C{own} and one service per peer in C{deps.peers}."""
    peers = {p.node.number: BridgeService(
        config=deps.config, ami=acting_link(deps.config, p.node, deps.reactor), db=deps.db,
        reactor=deps.reactor, tracker=p.tracker, bus=p.tracker.bus, host_path=deps.host_path)
        for p in deps.peers}
    return ClusterBridge(own=own, node=deps.config["cluster"]["node"], peers=peers,
                         calls=deps.calls, bus=deps.bus)
