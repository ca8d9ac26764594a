# -*- test-case-name: tests.cluster.test_view -*-
"""One view over every node: the same queries as L{CallService}, answered from this
controller's own tracker and each peer's, every call and agent tagged with its node."""

from __future__ import annotations

from typing import Any

from hotline.calls.service import CallService
from hotline.cluster.peers import PeerView, tag_call
from hotline.naming import is_peer_member

__all__ = ["ClusterCallService"]

_STATE_ORDER = {"talking": 0, "ringing": 1, "waiting": 2, "arriving": 3, "ended": 4}


class ClusterCallService:
    """L{CallService}'s questions over several PBXs (the console, the wallboard, the API)."""

    def __init__(self, *, own: CallService, node: int, peers: list[PeerView]) -> None:
        self.own = own
        self.node = node
        self.peers = peers

    def _services(self) -> list[tuple[int, CallService]]:
        return [(self.node, self.own)] + [(p.node.number, p.calls) for p in self.peers]

    def live_calls(self) -> list[dict[str, Any]]:
        """Every call of every PBX: talking first, then by age."""
        calls = [tag_call(c, n) for n, s in self._services() for c in s.live_calls()]
        calls.sort(key=lambda c: (_STATE_ORDER.get(c["state"], 9), c["started"], c["uniqueid"]))
        return calls

    def waiting(self) -> list[dict[str, Any]]:
        """The calls waiting or ringing on every PBX, longest wait first."""
        calls = [tag_call(c, n) for n, s in self._services() for c in s.waiting()]
        calls.sort(key=lambda c: c["queued_since"] if c["queued_since"] is not None
                   else c["since"])
        return calls

    def legs(self) -> list[dict[str, Any]]:
        return [dict(leg, node=n) for n, s in self._services() for leg in s.legs()]

    def agents(self) -> list[dict[str, Any]]:
        """Every agent of every PBX, each on the PBX its seat belongs to."""
        return [dict(a, node=n) for n, s in self._services() for a in s.agents()
                if not is_peer_member(a["interface"])]

    def wallboard(self) -> dict[str, Any]:
        """L{CallService.wallboard}'s figures summed over every PBX (the longest wait is the
        longest anywhere); C{nodes} has each PBX's own figures."""
        boards = {n: s.wallboard() for n, s in self._services()}
        # A seat of another PBX appears in this PBX's queue too: count agents where they sit.
        for n, s in self._services():
            peers = [a for a in s.agents() if is_peer_member(a["interface"])]
            for agent in peers:
                key = f"agents_{agent['state']}"
                if key in boards[n]:
                    boards[n][key] -= 1
        total: dict[str, Any] = {}
        for key in ("calls_waiting", "calls_talking", "agents_free", "agents_ringing",
                    "agents_talking", "agents_paused", "agents_unavailable", "answered",
                    "abandoned"):
            total[key] = sum(b[key] for b in boards.values())
        total["longest_wait_s"] = max(b["longest_wait_s"] for b in boards.values())
        total["since"] = min(b["since"] for b in boards.values())
        total["now"] = boards[self.node]["now"]
        total["nodes"] = {str(n): {k: v for k, v in b.items() if k not in ("since", "now")}
                          for n, b in boards.items()}
        return total
