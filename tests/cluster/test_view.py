"""The merged view: every PBX's calls and agents, each seat counted where it sits."""

from __future__ import annotations

from types import SimpleNamespace

from twisted.internet.task import Clock

from hotline.bus import EventBus
from hotline.calls.events import AgentCallCompleted
from hotline.cluster.peers import PeerView, tag_call
from hotline.cluster.service import ClusterCallService
from tests.calls.support import FakeAMI


class _Service:
    def __init__(self, calls, agents, board):
        self._calls, self._agents, self._board = calls, agents, board

    def live_calls(self):
        return self._calls

    def waiting(self):
        return [c for c in self._calls if c["state"] == "waiting"]

    def legs(self):
        return []

    def agents(self):
        return self._agents

    def wallboard(self):
        return dict(self._board)


def _call(uid, state, started, interface=None):
    return {"uniqueid": uid, "state": state, "started": started, "since": started,
            "queued_since": started, "caller": "13800000000",
            "agent": {"interface": interface} if interface else None}


def _board(**kw):
    base = {"calls_waiting": 0, "calls_talking": 0, "longest_wait_s": 0.0, "agents_free": 0,
            "agents_ringing": 0, "agents_talking": 0, "agents_paused": 0,
            "agents_unavailable": 0, "answered": 0, "abandoned": 0, "since": 10.0, "now": 50.0}
    return dict(base, **kw)


def _cluster():
    own = _Service(
        [_call("pbx-1", "talking", 5.0, "PJSIP/agent-1003@peer-2"), _call("pbx-2", "waiting", 7.0)],
        [{"interface": "PJSIP/agent-1001", "state": "talking"},
         {"interface": "PJSIP/agent-1003@peer-2", "state": "free"}],
        _board(calls_waiting=1, calls_talking=1, longest_wait_s=4.0, agents_free=1,
               agents_talking=1, answered=3))
    peer = _Service([_call("pbx2-1", "talking", 6.0, "PJSIP/agent-1004")],
                    [{"interface": "PJSIP/agent-1003", "state": "talking"},
                     {"interface": "PJSIP/agent-1004", "state": "talking"}],
                    _board(calls_talking=1, agents_talking=2, answered=2, since=8.0))
    node2 = SimpleNamespace(node=SimpleNamespace(number=2), calls=peer)
    return ClusterCallService(own=own, node=1, peers=[node2])


def test_calls_of_both_pbxs_with_their_node():
    """Every call of both PBXs is listed once, talking first, each tagged with its node."""
    calls = _cluster().live_calls()
    assert [(c["uniqueid"], c["node"]) for c in calls] == [
        ("pbx-1", 1), ("pbx2-1", 2), ("pbx-2", 1)]


def test_an_overflowed_call_names_the_seat_itself():
    """A call answered through another PBX names the seat's own interface, so its desk pops."""
    call = tag_call(_call("pbx-1", "talking", 5.0, "PJSIP/agent-1003@peer-2"), 1)
    assert call["agent"]["interface"] == "PJSIP/agent-1003"


def test_agents_are_counted_where_their_seat_is():
    """A seat appears once, on its own PBX; the wallboard sums both PBXs without it twice."""
    view = _cluster()
    assert [(a["interface"], a["node"]) for a in view.agents()] == [
        ("PJSIP/agent-1001", 1), ("PJSIP/agent-1003", 2), ("PJSIP/agent-1004", 2)]
    board = view.wallboard()
    assert (board["calls_waiting"], board["calls_talking"]) == (1, 2)
    assert (board["agents_free"], board["agents_talking"]) == (0, 3)
    assert board["answered"] == 5 and board["since"] == 8.0 and board["now"] == 50.0
    assert board["nodes"]["2"]["agents_talking"] == 2


def test_the_peers_completed_queue_calls_are_passed_on_with_its_node():
    """A queue call completed on the other PBX reaches this controller's bus tagged with that
    PBX's node (so this node wraps up its own seat that took it through the overflow)."""
    class AMI(FakeAMI):
        def start(self) -> None:
            pass

    ami, bus = AMI(), EventBus()
    seen: list[AgentCallCompleted] = []
    bus.subscribe(AgentCallCompleted, seen.append)
    view = PeerView(node=SimpleNamespace(number=2, address="127.0.1.2"), ami=ami,  # type: ignore[arg-type]
                    clock=Clock(), queue_name="hotline", bus=bus)
    view.start()
    ami.emit("AgentComplete", Queue="hotline", Uniqueid="pbx2-1.7",
             Interface="PJSIP/agent-1001@peer-1", MemberName="agent 1001", Reason="agent",
             TalkTime="30", HoldTime="2")
    assert [(e.uniqueid, e.agent_interface, e.agent_code, e.node) for e in seen] == [
        ("pbx2-1.7", "PJSIP/agent-1001@peer-1", "1001", 2)]
