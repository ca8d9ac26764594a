"""Which PBX a bridge or a callback acts on: the routing rules and the bridge's choice of service."""

from __future__ import annotations

import pytest
import pytest_twisted

from hotline.bridge.cluster import ClusterBridge
from hotline.bridge.outcomes import NoRoom
from hotline.bus import EventBus
from hotline.cluster.routing import free_seats, node_holding, seat_node, wrapup_node

CALLS = [
    {"uniqueid": "pbx-1.1", "hotline_call_id": "7", "state": "talking", "node": 1},
    {"uniqueid": "pbx2-1.4", "hotline_call_id": "9", "state": "talking", "node": 2},
    {"uniqueid": "pbx2-1.8", "hotline_call_id": None, "state": "waiting", "node": 2},
]


def test_a_call_is_found_on_the_pbx_that_holds_it_by_uniqueid_or_row_id():
    """A call is routed to the node whose view shows it, named by uniqueid or by row id."""
    assert node_holding("pbx2-1.4", CALLS) == 2
    assert node_holding(9, CALLS) == 2
    assert node_holding(" 7 ", CALLS) == 1
    assert node_holding("pbx2-1.8", CALLS) == 2


def test_an_unknown_or_empty_key_is_held_by_no_pbx():
    """No PBX is named for a call no view shows, nor for an empty key (a call without a row
    id must not match it)."""
    assert node_holding("8", CALLS) is None
    assert node_holding("", CALLS) is None


def test_a_live_call_wins_over_an_ended_one_with_the_same_row():
    """A call that lingers as ended on one PBX does not hide the live one on another."""
    calls = [{"uniqueid": "pbx-1.1", "hotline_call_id": "7", "state": "ended", "node": 1},
             {"uniqueid": "pbx2-1.2", "hotline_call_id": "7", "state": "talking", "node": 2}]
    assert node_holding(7, calls) == 2
    assert node_holding(7, calls[:1]) == 1


def test_free_seats_name_the_pbx_that_rings_them_own_first():
    """Every free seat is listed with its node, this node's seats first."""
    assert list(free_seats({2: ["1003"], 1: ["1001"]}, own=2).items()) == [
        ("1003", 2), ("1001", 1)]
    assert free_seats({1: ["1001"], 2: ["1001"]}, own=2) == {"1001": 2}
    assert free_seats({1: [], 2: []}, own=1) == {}


def test_a_busy_seat_rings_on_its_configured_pbx():
    """A seat not free anywhere is rung on the node the configuration gives it, else here."""
    seats = {"1001": 1, "1003": 2}
    assert seat_node("1003", seats=seats, own=1) == 2
    assert seat_node("1001", seats=seats, own=2) == 1
    assert seat_node("9999", seats=seats, own=2) == 2


def test_a_wrapup_belongs_to_the_node_whose_pbx_has_the_seats_own_member():
    """A seat that took an overflowed call is wrapped up by its own node, in either direction;
    a seat that took its own PBX's call, by that PBX's node."""
    assert wrapup_node("PJSIP/agent-1003@peer-2", holder=1) == 2
    assert wrapup_node("PJSIP/agent-1001@peer-1", holder=2) == 1
    assert wrapup_node("PJSIP/agent-1001", holder=1) == 1
    assert wrapup_node("PJSIP/agent-1004", holder=2) == 2


class _Service:
    """A bridge service as the cluster bridge sees it: rooms by call, and a record of calls."""

    def __init__(self, rooms: dict[str, object] | None = None) -> None:
        self.rooms_by_call = rooms or {}
        self.done: list[tuple[str, object]] = []
        self.auto_fallback = True
        self.bus = EventBus()

    def room_of(self, call_id):
        return self.rooms_by_call.get(str(call_id))

    def rooms(self):
        return list(self.rooms_by_call.values())

    async def bridge(self, call_id, entry, *, number=None):
        self.done.append(("bridge", call_id))
        return "attempt"

    async def leave(self, call_id):
        self.done.append(("leave", call_id))


class _View:
    def live_calls(self):
        return CALLS


def _cluster(own: _Service, peer: _Service) -> ClusterBridge:
    return ClusterBridge(own=own, node=1, peers={2: peer}, calls=_View(), bus=EventBus())


@pytest_twisted.ensureDeferred
async def test_a_bridge_acts_through_the_service_of_the_pbx_holding_the_call():
    """Bridging a call PBX 2 holds goes to node 2's service; a call of this PBX, or one no
    view shows (so that the refusal names it), to this node's."""
    own, peer = _Service(), _Service()
    bridge = _cluster(own, peer)
    assert await bridge.bridge("9", "entry") == "attempt"
    await bridge.bridge("pbx-1.1", "entry")
    await bridge.bridge("nowhere", "entry")
    assert peer.done == [("bridge", "9")]
    assert own.done == [("bridge", "pbx-1.1"), ("bridge", "nowhere")]


@pytest_twisted.ensureDeferred
async def test_room_actions_go_to_the_service_that_made_the_room():
    """Leaving a room goes to the service holding it; with no room anywhere it is refused."""
    room = object()
    own, peer = _Service(), _Service({"9": room})
    bridge = _cluster(own, peer)
    assert bridge.room_of(9) is room and bridge.rooms() == [room]
    await bridge.leave(9)
    assert peer.done == [("leave", 9)] and own.done == []
    with pytest.raises(NoRoom):
        await bridge.leave("7")
