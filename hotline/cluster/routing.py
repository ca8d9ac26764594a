# -*- test-case-name: tests.cluster.test_routing -*-
"""Which PBX of a cluster an action goes to, decided from what the views show. Pure: no I/O.

Three rules, one per kind of action a controller takes for another node's PBX:

- a bridge acts on a live call, so it goes to the PBX that holds the call (the citizen's
  channel): L{node_holding};
- a callback rings an agent first, so it goes to the PBX the agent's phone registers to (where
  the seat is free now, else where the configuration puts it): L{free_seats}, L{seat_node}.
  The citizen's leg then goes out through that same PBX's trunk (the dialplan dials it once
  the agent answers), so one PBX holds the whole attempt and its AstDB trace;
- a wrap-up (话后整理) pauses the seat's queue member, which only the seat's own PBX has, so
  it is taken by the controller of that node, whichever PBX held the call: L{wrapup_node}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hotline.naming import peer_member_node

__all__ = ["node_holding", "free_seats", "seat_node", "wrapup_node"]


def node_holding(key: int | str, calls: Iterable[Mapping[str, Any]]) -> int | None:
    """The node whose PBX holds live call ``key`` (the citizen channel's uniqueid, or the call's
    row id as ``hotline_call_id``), from the merged view's calls (each tagged with its
    ``node``); None when no PBX shows it. A call still lingering as ended counts only when no
    PBX shows it live.

    >>> calls = [{"uniqueid": "pbx-1.1", "hotline_call_id": "7", "state": "talking", "node": 1},
    ...          {"uniqueid": "pbx2-1.4", "hotline_call_id": "9", "state": "talking", "node": 2}]
    >>> node_holding("pbx2-1.4", calls), node_holding(9, calls), node_holding("8", calls)
    (2, 2, None)
    """
    wanted = str(key).strip()
    found = [c for c in calls if wanted and wanted in (c.get("uniqueid"),
                                                       str(c.get("hotline_call_id") or ""))]
    live = [c for c in found if c.get("state") != "ended"]
    chosen = (live or found)[:1]
    return int(chosen[0]["node"]) if chosen else None


def free_seats(free_by_node: Mapping[int, Sequence[str]], *, own: int) -> dict[str, int]:
    """Every free seat of the cluster with the node whose PBX can ring it, this node's first
    (the order a pick rotates over). A seat free on two PBXs at once (never with seats set
    right) is rung on this node's.

    >>> free_seats({2: ["1003"], 1: ["1001", "1002"]}, own=1)
    {'1001': 1, '1002': 1, '1003': 2}
    """
    out: dict[str, int] = {}
    for node in sorted(free_by_node, key=lambda n: (n != own, n)):
        for code in free_by_node[node]:
            out.setdefault(code, node)
    return out


def seat_node(code: str, *, seats: Mapping[str, int], own: int) -> int:
    """The node whose PBX rings seat ``code``: the one the configuration gives it
    (``cluster.seats``, L{hotline.pbx.topology.node_of_seat}), else this node (a seat the
    configuration does not list, as on a single node).

    >>> seat_node("1003", seats={"1001": 1, "1003": 2}, own=1), seat_node("2001", seats={}, own=2)
    (2, 2)
    """
    return seats.get(code, own)


def wrapup_node(interface: str, *, holder: int) -> int:
    """The node whose controller starts the wrap-up of the agent who took a queue call of node
    ``holder``'s PBX as member ``interface``: the node whose PBX has the seat's own queue member
    (the one a pause must reach), acting on its own PBX. A seat rung through another PBX (an
    overflowed call, ``PJSIP/agent-1003@peer-2``) is that node's; an own member, the holder's.
    One owner per call, so a seat is never paused twice nor on a PBX that does not ring it.

    >>> wrapup_node("PJSIP/agent-1003@peer-2", holder=1), wrapup_node("PJSIP/agent-1001", holder=1)
    (2, 1)
    """
    return peer_member_node(interface) or holder
