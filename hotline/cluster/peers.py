# -*- test-case-name: tests.cluster.test_view -*-
"""The other nodes' PBXs as this controller sees them: one read-only AMI link and one
L{CallTracker} per peer, whose view changes reach this controller's console streams.

Why a link per PBX rather than state shared through PostgreSQL: the view of a node must not
depend on that node's controller being alive (a controller killed leaves its PBX taking calls,
and the console of the other node goes on showing them), and AMI already says everything the
view needs. Only the view is shared: the peer trackers publish on a bus of their own, and just
their L{ViewChanged} events are passed on, so the finaliser, the bridge and the scheduler of
this controller never act on another PBX's calls (its own controller, or its reconciler when
that controller is back, records them). The one other event passed on is the end of a queue
call for an agent (L{AgentCallCompleted}, tagged with the PBX's node): a seat of this node that
took another PBX's call through the overflow is wrapped up here, on its own PBX
(L{hotline.floor.wrapup}, L{hotline.cluster.routing.wrapup_node}).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.logger import Logger

from hotline.ami.client import AMIClient
from hotline.bus import EventBus
from hotline.calls import events as ev
from hotline.calls.notifier import CallNotifier
from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.naming import is_peer_member, seat_interface
from hotline.pbx.topology import Node

__all__ = ["PeerView", "tag_call"]

_log = Logger(namespace="hotline.cluster.peers")


def tag_call(call: dict[str, Any], node: int) -> dict[str, Any]:
    """A call of node ``node``'s PBX as the merged view shows it: the node, and the seat's own
    interface when another PBX's agent took it (so that agent's desk pops it)."""
    out = dict(call, node=node)
    agent = call.get("agent")
    if agent and is_peer_member(agent.get("interface")):
        out["agent"] = dict(agent, interface=seat_interface(agent["interface"]))
    return out


class PeerView:
    """Follows one other node's PBX over AMI; its calls and agents join this console's view."""

    def __init__(self, *, node: Node, ami: AMIClient, clock: Any, queue_name: str,
                 bus: EventBus) -> None:
        """
        @param node: the peer node.
        @param ami: a link to the peer's PBX (not yet started).
        @param bus: this controller's bus, where the peer's view changes are passed on.
        """
        self.node = node
        self.ami = ami
        self._bus = bus
        self._own_bus = EventBus()
        self.tracker = CallTracker(ami=ami, clock=clock, queue_name=queue_name,
                                   notifier=CallNotifier(self._own_bus))
        self.calls = CallService(tracker=self.tracker)
        self._subs: list[Any] = []

    def start(self) -> None:
        self._subs = self._own_bus.subscribe_all({
            ev.CallUpdated: lambda e: self._bus.publish(ev.CallUpdated(tag_call(e.call, self.node.number))),
            ev.CallRemoved: lambda e: self._bus.publish(ev.CallRemoved(tag_call(e.call, self.node.number))),
            ev.AgentCallCompleted: lambda e: self._bus.publish(replace(e, node=self.node.number)),
            ev.AgentStateChanged: self._agent,
            ev.AgentRemoved: self._agent,
            ev.ViewResynced: lambda e: self._bus.publish(ev.ViewResynced(
                tuple(tag_call(c, self.node.number) for c in e.calls),
                tuple(dict(a, node=self.node.number) for a in e.agents
                      if not is_peer_member(a["interface"])))),
        })
        self.tracker.subscribe()
        self.ami.start()
        _log.info("following node {node}'s PBX at {address}", node=self.node.number,
                  address=self.node.address)

    def _agent(self, event: ev.AgentStateChanged | ev.AgentRemoved) -> None:
        if not is_peer_member(event.agent["interface"]):
            self._bus.publish(type(event)(dict(event.agent, node=self.node.number)))

    async def stop(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []
        self.tracker.stop()
        await self.ami.stop()
