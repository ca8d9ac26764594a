# -*- test-case-name: tests.calls.test_service -*-
"""The only code pushing live call updates: listeners get one payload per change.

Payloads are built with L{hotline.calls.model.call_to_dict} / L{agent_to_dict}, the same
functions L{hotline.calls.service} answers queries with, so a pushed call equals a fetched one::

    {"type": "call_updated" | "call_removed", "call": {...}}
    {"type": "agent_updated" | "agent_removed", "agent": {...}}
    {"type": "resynced", "calls": [{...}, ...], "agents": [{...}, ...]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from twisted.logger import Logger

from hotline.calls.model import Agent, Call, agent_to_dict, call_to_dict

__all__ = ["CallNotifier", "Listener"]

Listener = Callable[[dict[str, Any]], object]


class CallNotifier:
    """Fans call and agent changes out to registered listeners; a failing listener harms no other."""

    _log = Logger(namespace="hotline.calls.notifier")

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add_listener(self, on_change: Listener) -> Callable[[], None]:
        """
        Call C{on_change(payload)} for every change from now on.

        @return: a function that removes the listener (harmless when called twice).
        """
        self._listeners.append(on_change)

        def remove() -> None:
            if on_change in self._listeners:
                self._listeners.remove(on_change)

        return remove

    def call_updated(self, call: Call) -> None:
        """A call appeared or changed (ended calls included)."""
        self._push({"type": "call_updated", "call": call_to_dict(call)})

    def call_removed(self, call: Call) -> None:
        """An ended call left the live view after its linger."""
        self._push({"type": "call_removed", "call": call_to_dict(call)})

    def agent_updated(self, agent: Agent) -> None:
        """An agent appeared or changed state."""
        self._push({"type": "agent_updated", "agent": agent_to_dict(agent)})

    def agent_removed(self, agent: Agent) -> None:
        """A logged-out agent left the live view after its linger."""
        self._push({"type": "agent_removed", "agent": agent_to_dict(agent)})

    def resynced(self, calls: Iterable[Call], agents: Iterable[Agent]) -> None:
        """The whole view was rebuilt after an AMI (re)connect: here it is."""
        self._push({"type": "resynced", "calls": [call_to_dict(c) for c in calls],
                    "agents": [agent_to_dict(a) for a in agents]})

    def _push(self, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:
                self._log.failure("call listener {listener!r} failed on {type}",
                                  listener=listener, type=payload["type"])
