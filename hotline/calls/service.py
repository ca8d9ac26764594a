# -*- test-case-name: tests.calls.test_service -*-
"""Queries on the live call state: the calls, the queue, the agents and the wallboard figures.

Every call and agent comes out through L{hotline.calls.model.call_to_dict} /
L{agent_to_dict}, the serialisation the notifier pushes too.
"""

from __future__ import annotations

from typing import Any

from hotline.bus import EventBus
from hotline.calls.model import AgentState, CallState, agent_to_dict, call_to_dict
from hotline.calls.tracker import CallTracker

__all__ = ["CallService"]

_STATE_ORDER = {CallState.TALKING: 0, CallState.RINGING: 1, CallState.WAITING: 2,
                CallState.ARRIVING: 3, CallState.ENDED: 4}


class CallService:
    """Read-only questions about the live view a L{CallTracker} keeps."""

    def __init__(self, *, tracker: CallTracker) -> None:
        """@param tracker: the tracker whose view is read (never changed here)."""
        self._tracker = tracker

    @property
    def bus(self) -> EventBus:
        """Where the tracker publishes the calls' domain events."""
        return self._tracker.bus

    def live_calls(self) -> list[dict[str, Any]]:
        """Every call in the view, ended ones still lingering included: talking first, then by age."""
        calls = sorted(self._tracker.calls.values(),
                       key=lambda c: (_STATE_ORDER[c.state], c.started, c.uniqueid))
        return [call_to_dict(c) for c in calls]

    def waiting(self) -> list[dict[str, Any]]:
        """The calls waiting or ringing in a queue, by queue and position (longest wait first)."""
        calls = [c for c in self._tracker.calls.values()
                 if c.state in (CallState.WAITING, CallState.RINGING)]
        calls.sort(key=lambda c: (c.queue or "", c.position if c.position is not None else 1 << 30,
                                  c.since))
        return [call_to_dict(c) for c in calls]

    def legs(self) -> list[dict[str, Any]]:
        """Every live channel with its kind (inbound, agent, callback, survey, department,
        other), state and bridge room, oldest first."""
        legs = sorted(self._tracker.legs.values(), key=lambda leg: (leg.started, leg.uniqueid))
        return [{"uniqueid": leg.uniqueid, "linkedid": leg.linkedid, "kind": leg.kind.value,
                 "channel": leg.name, "state": _CHANNEL_STATES.get(leg.state or 0, "?"),
                 "caller": leg.caller, "room": leg.room, "started": leg.started}
                for leg in legs]

    def agents(self) -> list[dict[str, Any]]:
        """Every agent in the view, by interface."""
        return [agent_to_dict(a) for _, a in sorted(self._tracker.agents.items())]

    def wallboard(self) -> dict[str, Any]:
        """
        The figures a wallboard shows.

        @return: C{calls_waiting} (waiting or ringing), C{calls_talking}, C{longest_wait_s}
            (0 when none waits), C{agents_free}, C{agents_ringing}, C{agents_talking},
            C{agents_paused}, C{agents_wrapup} (整理中), C{agents_unavailable}, C{answered} and C{abandoned} since
            C{since} (when the tracker started), and C{now}.
        """
        tracker = self._tracker
        now = tracker.clock.seconds()
        queued = [c for c in tracker.calls.values()
                  if c.state in (CallState.WAITING, CallState.RINGING)]
        # A queued call's wait runs from when it joined: ringing does not reset it.
        longest = max((now - _queued_since(c) for c in queued), default=0.0)
        agent_states = [a.state for a in tracker.agents.values()]
        return {
            "calls_waiting": len(queued),
            "calls_talking": sum(c.state == CallState.TALKING for c in tracker.calls.values()),
            "longest_wait_s": round(max(longest, 0.0), 1),
            "agents_free": agent_states.count(AgentState.FREE),
            "agents_ringing": agent_states.count(AgentState.RINGING),
            "agents_talking": agent_states.count(AgentState.TALKING),
            "agents_paused": agent_states.count(AgentState.PAUSED),
            "agents_wrapup": agent_states.count(AgentState.WRAPUP),
            "agents_unavailable": agent_states.count(AgentState.UNAVAILABLE),
            "answered": tracker.answered,
            "abandoned": tracker.abandoned,
            "since": tracker.started,
            "now": now,
        }


#: Asterisk's channel states (C{ChannelState}), as the legs' table shows them.
_CHANNEL_STATES = {0: "down", 1: "reserved", 2: "offhook", 3: "dialing", 4: "ring",
                   5: "ringing", 6: "up", 7: "busy", 8: "dialing offhook", 9: "pre-ring"}


def _queued_since(call: Any) -> float:
    return call.queued_since if call.queued_since is not None else call.since
