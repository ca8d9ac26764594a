"""Tests for L{hotline.calls.tracker}: call and agent state from Asterisk 22 AMI events."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from hotline.calls.model import AgentState, CallState
from hotline.calls.tracker import UNKNOWN_CAUSE, CallTracker
from tests.calls.support import (
    AGENT_CHAN,
    AGENT_IF,
    AGENT_UID,
    CALLER,
    CITIZEN,
    CITIZEN_UID,
    FakeAMI,
    agent_leg,
    citizen,
    list_reply,
    member,
    snapshot,
)


class TrackerTestMixin:
    """A tracker on a fake AMI and a Clock, with every pushed payload recorded."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.ami = FakeAMI()
        self.tracker = CallTracker(ami=self.ami, clock=self.clock, queue_name="hotline",
                                   linger=5.0)
        self.tracker.subscribe()
        self.pushed: list[dict] = []
        self.tracker.notifier.add_listener(self.pushed.append)
        self.addCleanup(self.tracker.stop)

    def call(self):
        return self.tracker.calls[CITIZEN_UID]

    def agent(self):
        return self.tracker.agents[AGENT_IF]

    def log_in_agent(self) -> None:
        self.ami.deliver(member("QueueMemberAdded"))

    def arrive(self) -> None:
        """The citizen's channel, the lookup's variables, and the queue join."""
        self.ami.emit("Newchannel", **citizen(state=4, context="from-city", exten="83658365"))
        self.ami.emit("Newstate", **citizen(state=6, context="from-city", exten="83658365"))
        self.ami.emit("VarSet", **citizen(), Variable="HOTLINE_CALL_ID", Value="42")
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_CALL_ID", Value="42")
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_REPEAT_CALLER", Value="1")
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_OPEN_TICKETS", Value="2")
        self.clock.advance(7)
        self.ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)

    def ring(self) -> None:
        self.ami.emit("Newchannel", **agent_leg(state=0))
        self.ami.emit("AgentCalled", **citizen(), **agent_leg(prefix="Dest", state=0),
                      Queue="hotline", Interface=AGENT_IF, MemberName="Agent 1001")
        self.ami.deliver(member("QueueMemberStatus", status=6))

    def connect(self) -> None:
        self.ami.emit("Newstate", **agent_leg(state=6))
        self.ami.emit("QueueCallerLeave", **citizen(), Queue="hotline", Position=1, Count=0)
        self.ami.emit("AgentConnect", **citizen(), **agent_leg(prefix="Dest"), Queue="hotline",
                      Interface=AGENT_IF, MemberName="Agent 1001", HoldTime=3, RingTime=2)
        self.ami.deliver(member("QueueMemberStatus", status=2, in_call=1))
        for uid in (CITIZEN_UID, AGENT_UID):
            chan = citizen() if uid == CITIZEN_UID else agent_leg()
            self.ami.emit("BridgeEnter", BridgeUniqueid="b-1", BridgeType="basic",
                          BridgeTechnology="simple_bridge", BridgeCreator="<unknown>",
                          BridgeName="<unknown>", BridgeNumChannels=2,
                          BridgeVideoSourceMode="none", **chan)

    def complete(self, reason: str) -> None:
        self.ami.emit("AgentComplete", **citizen(), **agent_leg(prefix="Dest"), Queue="hotline",
                      Interface=AGENT_IF, MemberName="Agent 1001", HoldTime=3, TalkTime=30,
                      Reason=reason)

    def hangup(self, which: str) -> None:
        chan = citizen() if which == "citizen" else agent_leg()
        self.ami.emit("Hangup", **chan, Cause=16, Cause_txt="Normal Clearing")


class CallLifeTests(TrackerTestMixin, SynchronousTestCase):
    """A call from arrival to hangup."""

    def test_lookup_variables_make_an_arriving_call(self):
        """The lookup's VarSets on the citizen's channel create an arriving call that carries them."""
        self.ami.emit("Newchannel", **citizen(state=4))
        self.ami.emit("VarSet", **citizen(), Variable="HOTLINE_CALL_ID", Value="42")
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_REPEAT_CALLER", Value="1")
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_OPEN_TICKETS", Value="2")
        call = self.call()
        self.assertEqual(call.state, CallState.ARRIVING)
        self.assertEqual((call.hotline_call_id, call.repeat_caller, call.open_tickets),
                         ("42", True, 2))
        self.assertEqual(call.caller, CALLER)

    def test_join_waits_with_position(self):
        """QueueCallerJoin puts the call in the waiting state with its queue and position."""
        self.arrive()
        call = self.call()
        self.assertEqual((call.state, call.queue, call.position), (CallState.WAITING, "hotline", 1))
        self.assertEqual(call.since, 1007)
        self.assertEqual(call.started, 1000)
        self.assertEqual(call.linkedid, CITIZEN_UID)
        self.assertEqual(call.channel, CITIZEN)

    def test_full_life_agent_hangs_up(self):
        """Join, called, connect, agent hangs up, complete, citizen hangup: every state and time."""
        self.log_in_agent()
        self.arrive()
        self.clock.advance(1)
        self.ring()
        self.assertEqual(self.call().state, CallState.RINGING)
        self.assertEqual(self.call().agent_channel, AGENT_CHAN)
        self.assertEqual(self.agent().state, AgentState.RINGING)
        self.clock.advance(2)
        self.connect()
        call = self.call()
        self.assertEqual((call.state, call.since, call.position), (CallState.TALKING, 1010, None))
        self.assertEqual((call.agent_interface, call.agent_name, call.agent_uniqueid),
                         (AGENT_IF, "Agent 1001", AGENT_UID))
        self.assertEqual(call.hold_time, 3)
        self.assertEqual((self.agent().state, self.agent().since), (AgentState.TALKING, 1010))
        self.assertEqual(self.tracker.answered, 1)
        self.clock.advance(30)
        self.hangup("agent")
        self.complete("agent")
        self.ami.deliver(member("QueueMemberStatus", status=1, in_call=0))
        self.hangup("citizen")
        call = self.call()
        self.assertEqual((call.state, call.since), (CallState.ENDED, 1040))
        self.assertEqual((call.hangup_cause, call.hangup_cause_txt), (16, "Normal Clearing"))
        self.assertEqual((call.hung_up_by, call.talk_time), ("agent", 30))
        self.assertEqual(self.agent().state, AgentState.FREE)
        self.assertEqual(call.hotline_call_id, "42")
        self.assertTrue(call.repeat_caller)
        self.assertEqual(call.open_tickets, 2)

    def test_citizen_hangs_up_first(self):
        """A citizen hanging up first is recorded as the caller, by Hangup order and by Reason."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.connect()
        self.hangup("citizen")
        self.assertEqual(self.call().hung_up_by, "caller")
        self.complete("caller")
        self.hangup("agent")
        self.assertEqual(self.call().hung_up_by, "caller")

    def test_abandon(self):
        """A caller hanging up in the queue is abandoned, counted, and ends with the caller."""
        self.arrive()
        self.clock.advance(12)
        self.ami.emit("QueueCallerAbandon", **citizen(), Queue="hotline", Position=1,
                      OriginalPosition=1, HoldTime=12)
        self.ami.emit("QueueCallerLeave", **citizen(), Queue="hotline", Position=1, Count=0)
        self.hangup("citizen")
        call = self.call()
        self.assertEqual((call.state, call.abandoned, call.hold_time, call.hung_up_by),
                         (CallState.ENDED, True, 12, "caller"))
        self.assertEqual((self.tracker.abandoned, self.tracker.answered), (1, 0))

    def test_abandon_while_ringing_frees_the_agent(self):
        """A caller hanging up while an agent rings (Asterisk 22's order) leaves the agent free."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.ami.emit("QueueCallerAbandon", **citizen(), Queue="hotline", Position=1,
                      OriginalPosition=1, HoldTime=3)
        self.ami.emit("QueueCallerLeave", **citizen(), Queue="hotline", Position=1, Count=0)
        self.ami.emit("Hangup", **agent_leg(state=5), Cause=0, Cause_txt="Unknown")
        self.ami.deliver(member("QueueMemberStatus", status=1))
        self.hangup("citizen")
        self.assertEqual((self.call().state, self.call().hung_up_by),
                         (CallState.ENDED, "caller"))
        self.assertEqual((self.agent().state, self.agent().call_uniqueid),
                         (AgentState.FREE, None))

    def test_ring_no_answer_goes_back_to_waiting(self):
        """An agent not answering puts the call back to waiting and the agent back to free."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.clock.advance(15)
        self.ami.emit("AgentRingNoAnswer", **citizen(), **agent_leg(prefix="Dest", state=5),
                      Queue="hotline", Interface=AGENT_IF, MemberName="Agent 1001",
                      RingTime=15)
        call = self.call()
        self.assertEqual((call.state, call.agent_interface, call.agent_channel),
                         (CallState.WAITING, None, None))
        self.assertEqual(self.agent().state, AgentState.FREE)

    def test_leave_moves_the_others_up(self):
        """When the first caller leaves the queue the second one moves to position 1."""
        self.arrive()
        other = snapshot("PJSIP/city-trunk-00000006", "1718000000.20", "1718000000.20",
                         caller="13900139000")
        self.ami.emit("Newchannel", **other)
        self.ami.emit("QueueCallerJoin", **other, Queue="hotline", Position=2, Count=2)
        self.ami.emit("QueueCallerLeave", **citizen(), Queue="hotline", Position=1, Count=1)
        self.assertEqual(self.tracker.calls["1718000000.20"].position, 1)

    def test_new_callerid_updates_the_call(self):
        """NewCallerid on the citizen's channel changes the call's caller number."""
        self.arrive()
        self.ami.emit("NewCallerid", **citizen(caller="13700137000"), CID_CallingPres="0")
        self.assertEqual(self.call().caller, "13700137000")

    def test_inherited_copies_on_the_agent_leg(self):
        """Inherited lookup variables on the agent leg fill the citizen's call when it lacked them."""
        self.ami.emit("Newchannel", **citizen())
        self.ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
        self.ami.emit("Newchannel", **agent_leg(state=0))
        self.ami.emit("VarSet", **agent_leg(), Variable="__HOTLINE_CALL_ID", Value="77")
        self.assertEqual(self.call().hotline_call_id, "77")
        self.assertNotIn(AGENT_UID, self.tracker.calls)

    def test_other_queue_ignored(self):
        """A join to another queue than the tracker's is not a hotline call."""
        self.ami.emit("QueueCallerJoin", **citizen(), Queue="other", Position=1, Count=1)
        self.assertEqual(dict(self.tracker.calls), {})


class UnknownChannelTests(TrackerTestMixin, SynchronousTestCase):
    """Events about channels and calls we do not know change nothing."""

    def test_events_for_unknown_channels_are_ignored(self):
        """Every per-call event for an unknown Uniqueid leaves the view empty and pushes nothing."""
        ghost = snapshot("PJSIP/city-trunk-000000ff", "9.9", "9.9")
        for event in ("Newstate", "NewCallerid", "Newexten", "BridgeEnter", "BridgeLeave",
                      "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
                      "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "Hangup"):
            self.ami.emit(event, **ghost, Queue="hotline", Interface=AGENT_IF, Position=1,
                          Variable="HOTLINE_CALL_ID", Value="1", Cause=16)
        self.ami.emit("VarSet", **ghost, Variable="HOTLINE_CALL_ID", Value="1")
        self.ami.deliver(member("QueueMemberRemoved", interface="PJSIP/nobody"))
        self.assertEqual((dict(self.tracker.calls), dict(self.tracker.agents)), ({}, {}))
        self.assertEqual(self.pushed, [])

    def test_events_after_hangup_are_ignored(self):
        """A late AgentComplete after the call ended changes nothing about it."""
        self.arrive()
        self.hangup("citizen")
        before = list(self.pushed)
        self.complete("agent")
        self.assertEqual(self.call().hung_up_by, None)
        self.assertEqual(self.pushed, before)

    def test_unrelated_varset_ignored(self):
        """VarSets of other variables do not create calls."""
        self.ami.emit("Newchannel", **citizen())
        self.ami.emit("VarSet", **citizen(), Variable="HOTLINE_ROLE", Value="citizen")
        self.assertEqual(dict(self.tracker.calls), {})


class AgentStateTests(TrackerTestMixin, SynchronousTestCase):
    """Queue members' states from QueueMember* events."""

    def test_log_in_pause_resume_log_out(self):
        """Added is free, a pause carries its reason, resume frees, removed logs out."""
        self.log_in_agent()
        self.assertEqual((self.agent().state, self.agent().name), (AgentState.FREE, "Agent 1001"))
        self.clock.advance(60)
        self.ami.deliver(member("QueueMemberPause", paused=1, reason="lunch"))
        self.assertEqual((self.agent().state, self.agent().paused_reason, self.agent().since),
                         (AgentState.PAUSED, "lunch", 1060))
        self.ami.deliver(member("QueueMemberPause", paused=0))
        self.assertEqual((self.agent().state, self.agent().paused_reason),
                         (AgentState.FREE, None))
        self.ami.deliver(member("QueueMemberRemoved"))
        self.assertEqual((self.agent().state, self.agent().queues),
                         (AgentState.LOGGED_OUT, []))

    def test_device_states(self):
        """Status numbers map to states: ringing, in use, unavailable; InCall means talking."""
        cases = [(6, 0, AgentState.RINGING), (2, 0, AgentState.TALKING),
                 (1, 1, AgentState.TALKING), (5, 0, AgentState.UNAVAILABLE),
                 (4, 0, AgentState.UNAVAILABLE), (1, 0, AgentState.FREE)]
        for status, in_call, expected in cases:
            self.ami.deliver(member("QueueMemberStatus", status=status, in_call=in_call))
            self.assertEqual(self.agent().state, expected, (status, in_call))

    def test_paused_agent_on_a_call_stays_paused(self):
        """A pause taken during a call shows as paused, with the call flag kept."""
        self.ami.deliver(member("QueueMemberStatus", status=2, in_call=1, paused=1,
                                reason="after call"))
        self.assertEqual(self.agent().state, AgentState.PAUSED)
        self.assertTrue(self.agent().in_call)

    def test_unchanged_status_pushes_nothing(self):
        """A repeated identical QueueMemberStatus does not push an update."""
        self.log_in_agent()
        count = len(self.pushed)
        self.ami.deliver(member("QueueMemberStatus"))
        self.assertEqual(len(self.pushed), count)


class LingerTests(TrackerTestMixin, SynchronousTestCase):
    """Ended calls and logged-out agents leave the view after the linger."""

    def test_ended_call_dropped_after_linger(self):
        """An ended call stays for the linger, then goes, with a call_removed push."""
        self.arrive()
        self.hangup("citizen")
        self.clock.advance(4.9)
        self.assertIn(CITIZEN_UID, self.tracker.calls)
        self.clock.advance(0.2)
        self.assertNotIn(CITIZEN_UID, self.tracker.calls)
        self.assertEqual(self.pushed[-1]["type"], "call_removed")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_logged_out_agent_dropped_after_linger(self):
        """A logged-out agent goes after the linger unless it logs in again first."""
        self.log_in_agent()
        self.ami.deliver(member("QueueMemberRemoved"))
        self.clock.advance(3)
        self.log_in_agent()
        self.clock.advance(10)
        self.assertEqual(self.agent().state, AgentState.FREE)
        self.ami.deliver(member("QueueMemberRemoved"))
        self.clock.advance(5)
        self.assertNotIn(AGENT_IF, self.tracker.agents)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_cancels_timers_and_subscriptions(self):
        """stop() cancels pending linger timers and unsubscribes every handler."""
        self.arrive()
        self.hangup("citizen")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.tracker.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.ami.subscriptions, [])

    def test_subscribe_lists_every_event(self):
        """subscribe() consumes the queue, agent, channel and hangup events and adds one hook."""
        names = {s.name for s in self.ami.subscriptions}
        for name in ("newchannel", "newstate", "newcallerid", "varset", "queuecallerjoin",
                     "queuecallerleave", "queuecallerabandon", "agentcalled",
                     "agentringnoanswer", "agentconnect", "agentcomplete", "hangup",
                     "queuememberadded", "queuememberremoved", "queuememberpause",
                     "queuememberstatus"):
            self.assertIn(name, names)
        self.assertEqual(self.ami.hooks, [self.tracker.resync])


class ResyncTests(TrackerTestMixin, SynchronousTestCase):
    """The view rebuilt from CoreShowChannels and QueueStatus after a (re)connect."""

    def channels(self, *extra):
        citizen_chan = {"Event": "CoreShowChannel", **citizen(), "Application": "Queue",
                        "ApplicationData": "hotline,t,,,,,,,,", "Duration": "00:00:40",
                        "BridgeId": "b-1", "AccountCode": ""}
        agent_chan = {"Event": "CoreShowChannel", **agent_leg(), "Application": "AppQueue",
                      "ApplicationData": "(Outgoing Line)", "Duration": "00:00:25",
                      "BridgeId": "b-1"}
        return list_reply("CoreShowChannel", [citizen_chan, agent_chan, *extra])

    def queue_status(self, entries=(), members=None):
        items = [{"Event": "QueueParams", "Queue": "hotline", "Max": 0, "Strategy": "ringall",
                  "Calls": len(entries), "Holdtime": 3, "TalkTime": 30, "Completed": 1,
                  "Abandoned": 0, "ServiceLevel": 0, "ServicelevelPerf": "0.0",
                  "ServicelevelPerf2": "0.0", "Weight": 0}]
        for m in members if members is not None else [dict(paused=0, status=2, in_call=1)]:
            items.append({"Event": "QueueMember", "Queue": "hotline", "Name": "Agent 1001",
                          "Location": AGENT_IF, "StateInterface": AGENT_IF,
                          "Membership": "dynamic", "Penalty": 0, "CallsTaken": 1, "LastCall": 0,
                          "LastPause": 0, "LoginTime": 1718000000, "InCall": m["in_call"],
                          "Status": m["status"], "Paused": m["paused"],
                          "PausedReason": m.get("reason", ""), "Wrapuptime": 0})
        items.extend(entries)
        return list_reply("Queue", items)

    def test_resync_builds_talking_call_and_agent(self):
        """A bridged call in Queue() becomes talking with its agent found from the channel name."""
        self.ami.replies = {"CoreShowChannels": self.channels(),
                            "QueueStatus": self.queue_status(),
                            "Getvar": lambda **h: {"HOTLINE_CALL_ID": _getvar("42"),
                                                    "HOTLINE_REPEAT_CALLER": _getvar("1"),
                                                    "HOTLINE_OPEN_TICKETS": _getvar("3")
                                                    }[h["Variable"]]}
        self.successResultOf(self.ami.resync())
        call = self.call()
        self.assertEqual((call.state, call.queue, call.agent_interface, call.agent_channel),
                         (CallState.TALKING, "hotline", AGENT_IF, AGENT_CHAN))
        self.assertEqual(call.since, 1000 - 25)
        self.assertEqual(call.started, 1000 - 40)
        self.assertEqual((call.hotline_call_id, call.repeat_caller, call.open_tickets),
                         ("42", True, 3))
        self.assertEqual(self.agent().state, AgentState.TALKING)
        self.assertEqual(self.agent().call_uniqueid, CITIZEN_UID)
        self.assertEqual(self.ami.sent[:2], [("CoreShowChannels", {}),
                                             ("QueueStatus", {"Queue": "hotline"})])

    def test_resync_waiting_entries(self):
        """QueueEntry lines become waiting calls with position and a wait counted back from now."""
        other = snapshot("PJSIP/city-trunk-00000006", "1718000000.20", "1718000000.20",
                         caller="13900139000")
        entry = {"Event": "QueueEntry", "Queue": "hotline", "Position": 1,
                 "Channel": other["Channel"], "Uniqueid": other["Uniqueid"],
                 "CallerIDNum": "13900139000", "CallerIDName": "<unknown>",
                 "ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>",
                 "Wait": 20, "Priority": 0}
        other_chan = {"Event": "CoreShowChannel", **other, "Application": "Queue",
                      "ApplicationData": "hotline,t,,,,,,,,", "Duration": "00:00:27",
                      "BridgeId": ""}
        self.ami.replies = {"CoreShowChannels": self.channels(other_chan),
                            "QueueStatus": self.queue_status([entry])}
        self.successResultOf(self.ami.resync())
        waiting = self.tracker.calls["1718000000.20"]
        self.assertEqual((waiting.state, waiting.position, waiting.since, waiting.caller),
                         (CallState.WAITING, 1, 980, "13900139000"))

    def test_resync_replaces_state_and_ends_vanished_calls(self):
        """Calls gone while the link was down end with an unknown cause and are reported."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.connect()
        self.clock.advance(100)
        self.ami.replies = {"CoreShowChannels": list_reply("CoreShowChannel", []),
                            "QueueStatus": self.queue_status(
                                members=[dict(paused=1, status=1, in_call=0, reason="tea")])}
        self.pushed.clear()
        self.successResultOf(self.ami.resync())
        call = self.call()
        self.assertEqual((call.state, call.hangup_cause, call.hangup_cause_txt),
                         (CallState.ENDED, None, UNKNOWN_CAUSE))
        self.assertEqual([p["type"] for p in self.pushed], ["call_updated", "resynced"])
        self.assertEqual(self.pushed[0]["call"]["state"], "ended")
        self.assertEqual((self.agent().state, self.agent().paused_reason),
                         (AgentState.PAUSED, "tea"))
        self.assertEqual(self.tracker._channels, {})
        self.clock.advance(5)
        self.assertEqual(dict(self.tracker.calls), {})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_resync_keeps_known_call_details(self):
        """A call still alive after the resync keeps its lookup fields and state time."""
        self.log_in_agent()
        self.arrive()
        self.ring()
        self.connect()
        talking_since = self.call().since
        self.clock.advance(10)
        self.ami.replies = {"CoreShowChannels": self.channels(),
                            "QueueStatus": self.queue_status()}
        self.successResultOf(self.ami.resync())
        call = self.call()
        self.assertEqual((call.state, call.since, call.hotline_call_id),
                         (CallState.TALKING, talking_since, "42"))
        self.assertNotIn("Getvar", [name for name, _ in self.ami.sent])

    def test_resync_logs_out_missing_agents(self):
        """An agent missing from QueueStatus is logged out, then dropped after the linger."""
        self.log_in_agent()
        self.ami.replies = {"CoreShowChannels": list_reply("CoreShowChannel", []),
                            "QueueStatus": self.queue_status(members=[])}
        self.successResultOf(self.ami.resync())
        self.assertEqual(self.agent().state, AgentState.LOGGED_OUT)
        self.clock.advance(5)
        self.assertNotIn(AGENT_IF, self.tracker.agents)

    def test_stopped_tracker_does_not_resync(self):
        """After stop() the resync hook does nothing."""
        self.tracker.stop()
        self.successResultOf(self.ami.resync())
        self.assertEqual(self.ami.sent, [])


def _getvar(value: str):
    from tests.calls.support import message
    return message(None, Response="Success", Variable="x", Value=value)
