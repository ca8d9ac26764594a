"""Tests for L{hotline.calls.service} and L{hotline.calls.notifier}: queries and pushed payloads."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hotline.calls.model import Call, call_to_dict
from hotline.calls.notifier import CallNotifier
from hotline.calls.service import CallService
from tests.calls.support import AGENT_IF, CITIZEN_UID, citizen, member, snapshot
from tests.calls.test_tracker import TrackerTestMixin


class CallServiceTests(TrackerTestMixin, SynchronousTestCase):
    """Queries over a tracker fed by events."""

    def setUp(self) -> None:
        super().setUp()
        self.service = CallService(tracker=self.tracker)

    def second_caller(self, position: int = 2) -> None:
        other = snapshot("PJSIP/city-trunk-00000006", "1718000000.20", "1718000000.20",
                         caller="13900139000")
        self.ami.emit("Newchannel", **other)
        self.ami.emit("QueueCallerJoin", **other, Queue="hotline", Position=position, Count=2)

    def test_live_calls_talking_first(self):
        """live_calls lists talking calls before waiting ones, as dicts."""
        self.log_in_agent()
        self.arrive()
        self.clock.advance(3)
        self.second_caller()
        self.ring()
        self.connect()
        calls = self.service.live_calls()
        self.assertEqual([(c["uniqueid"], c["state"]) for c in calls],
                         [(CITIZEN_UID, "talking"), ("1718000000.20", "waiting")])
        self.assertEqual(calls[0]["agent"]["interface"], AGENT_IF)

    def test_waiting_by_position(self):
        """waiting lists queued calls by position and leaves out talking ones."""
        self.arrive()
        self.second_caller()
        self.assertEqual([c["position"] for c in self.service.waiting()], [1, 2])
        self.log_in_agent()
        self.ring()
        self.connect()
        self.assertEqual([c["uniqueid"] for c in self.service.waiting()], ["1718000000.20"])

    def test_agents(self):
        """agents lists every member with its state and pause reason."""
        self.ami.deliver(member("QueueMemberAdded"))
        self.ami.deliver(member("QueueMemberAdded", interface="PJSIP/agent-1002", name="B",
                                paused=1, reason="training"))
        self.assertEqual([(a["interface"], a["state"], a["paused_reason"])
                          for a in self.service.agents()],
                         [(AGENT_IF, "free", None), ("PJSIP/agent-1002", "paused", "training")])

    def test_wallboard(self):
        """wallboard counts waiting calls, the longest wait, agents by state, answered and abandoned."""
        self.log_in_agent()
        self.ami.deliver(member("QueueMemberAdded", interface="PJSIP/agent-1002", name="B",
                                paused=1, reason="lunch"))
        self.arrive()                  # joins at 1007
        self.clock.advance(5)
        self.second_caller()           # joins at 1012
        self.ring()
        self.clock.advance(4)
        board = self.service.wallboard()
        self.assertEqual((board["calls_waiting"], board["longest_wait_s"]), (2, 9.0))
        self.assertEqual((board["agents_ringing"], board["agents_paused"]), (1, 1))
        self.connect()
        self.ami.emit("QueueCallerAbandon", **snapshot(
            "PJSIP/city-trunk-00000006", "1718000000.20", "1718000000.20"),
            Queue="hotline", Position=1, OriginalPosition=2, HoldTime=4)
        board = self.service.wallboard()
        self.assertEqual({k: board[k] for k in ("calls_talking", "agents_talking", "agents_free",
                                               "answered", "abandoned")},
                         {"calls_talking": 1, "agents_talking": 1, "agents_free": 0,
                          "answered": 1, "abandoned": 1})
        self.assertEqual(board["since"], 1000)

    def test_empty_wallboard(self):
        """An empty view has no wait and zero counts."""
        board = self.service.wallboard()
        self.assertEqual((board["calls_waiting"], board["longest_wait_s"], board["answered"]),
                         (0, 0, 0))


class NotifierTests(TrackerTestMixin, SynchronousTestCase):
    """What listeners receive."""

    def test_pushed_call_equals_fetched_call(self):
        """Each call_updated payload equals what live_calls returns at that moment."""
        service = CallService(tracker=self.tracker)
        checked = []

        def compare(payload):
            if payload["type"] == "call_updated":
                fetched = {c["uniqueid"]: c for c in service.live_calls()}
                self.assertEqual(payload["call"], fetched[payload["call"]["uniqueid"]])
                checked.append(payload["call"]["state"])
            elif payload["type"] == "agent_updated":
                fetched = {a["interface"]: a for a in service.agents()}
                self.assertEqual(payload["agent"], fetched[payload["agent"]["interface"]])

        self.tracker.notifier.add_listener(compare)
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.connect()
        self.hangup("citizen")
        for state in ("waiting", "ringing", "talking", "ended"):
            self.assertIn(state, checked)

    def test_failing_listener_harms_no_other(self):
        """A listener that raises is logged and the next listener still gets the payload."""
        notifier = CallNotifier()
        got = []

        def broken(payload):
            raise RuntimeError("console gone")

        notifier.add_listener(broken)
        notifier.add_listener(got.append)
        call = Call(uniqueid="1.1", channel="PJSIP/x-1", linkedid="1.1")
        notifier.call_updated(call)
        self.assertEqual(got, [{"type": "call_updated", "call": call_to_dict(call)}])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_remove_listener(self):
        """The function add_listener returns stops delivery, and is harmless twice."""
        notifier = CallNotifier()
        got = []
        remove = notifier.add_listener(got.append)
        remove()
        remove()
        notifier.call_updated(Call(uniqueid="1.1", channel="PJSIP/x-1", linkedid="1.1"))
        self.assertEqual(got, [])

    def test_resynced_payload(self):
        """The resynced payload holds the whole view in the query shape."""
        self.ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
        self.tracker.notifier.resynced(self.tracker.calls.values(), self.tracker.agents.values())
        service = CallService(tracker=self.tracker)
        self.assertEqual(self.pushed[-1], {"type": "resynced", "calls": service.live_calls(),
                                           "agents": service.agents()})
