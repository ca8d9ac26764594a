# -*- test-case-name: tests.calls.test_service -*-
"""The live view's changes as events on the bus, and the payload shape they serialise to.

The tracker calls these methods; each publishes one L{hotline.calls.events.ViewChanged} on the
controller's L{hotline.bus.EventBus}. Payloads are built with
L{hotline.calls.model.call_to_dict} / L{agent_to_dict}, the same functions
L{hotline.calls.service} answers queries with, so a pushed call equals a fetched one::

    {"type": "call_updated" | "call_removed", "call": {...}}
    {"type": "agent_updated" | "agent_removed", "agent": {...}}
    {"type": "resynced", "calls": [{...}, ...], "agents": [{...}, ...]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hotline.bus import EventBus
from hotline.calls.events import (
    AgentRemoved,
    AgentStateChanged,
    CallRemoved,
    CallUpdated,
    ViewChanged,
    ViewResynced,
)
from hotline.calls.model import Agent, Call, agent_to_dict, call_to_dict

__all__ = ["CallNotifier", "Listener"]

Listener = Callable[[dict[str, Any]], object]


class CallNotifier:
    """Publishes call and agent changes on C{bus}; a failing listener harms no other."""

    def __init__(self, bus: EventBus | None = None) -> None:
        """@param bus: where to publish; default a bus of its own."""
        self.bus = bus if bus is not None else EventBus()

    def add_listener(self, on_change: Listener) -> Callable[[], None]:
        """
        Call C{on_change(payload)} for every change from now on (a subscription to
        L{ViewChanged} on the bus, handed the event's payload).

        @return: a function that removes the listener (harmless when called twice).
        """
        sub = self.bus.subscribe(ViewChanged, lambda event: on_change(event.payload))
        return sub.cancel

    def call_updated(self, call: Call) -> None:
        """A call appeared or changed (ended calls included)."""
        self.bus.publish(CallUpdated(call_to_dict(call)))

    def call_removed(self, call: Call) -> None:
        """An ended call left the live view after its linger."""
        self.bus.publish(CallRemoved(call_to_dict(call)))

    def agent_updated(self, agent: Agent) -> None:
        """An agent appeared or changed state."""
        self.bus.publish(AgentStateChanged(agent_to_dict(agent)))

    def agent_removed(self, agent: Agent) -> None:
        """A logged-out agent left the live view after its linger."""
        self.bus.publish(AgentRemoved(agent_to_dict(agent)))

    def resynced(self, calls: Iterable[Call], agents: Iterable[Agent]) -> None:
        """The whole view was rebuilt after an AMI (re)connect: here it is."""
        self.bus.publish(ViewResynced(tuple(call_to_dict(c) for c in calls),
                                      tuple(agent_to_dict(a) for a in agents)))
