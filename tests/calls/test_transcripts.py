"""The call state machine driven by AMI sessions recorded from the real sandbox.

Each transcript in ``tests/ami/transcripts/`` was recorded by ``tests/ami/record_scenarios.py``
with our own AMI client and a L{CallTracker} on it (see L{tests.support.ami_recorder}). Here the
same client and tracker replay it byte for byte on a C{StringTransport} (the resync's actions
must match what was recorded), and the tests read the domain events the tracker published: the
hang-up orders the PBX produces (citizen first, agent first, abandoned in the queue), a
three-way bridge, a callback, a survey and a deadline reminder.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami.actions import ActionIdGenerator
from hotline.ami.client import AMIClient
from hotline.calls import events as ev
from hotline.calls.events import LegKind, RoomChange
from hotline.calls.model import CallState
from hotline.calls.tracker import CallTracker
from tests.ami.replay import TranscriptReplay
from tests.support.ami_recorder import REPLAY_SECRET, REPLAY_USERNAME


class Replayed:
    """A transcript played into a fresh client and tracker; C{events} is everything the
    tracker published, in order."""

    def __init__(self, name: str, *, chunk_size: int | None = None,
                 pbx_filtered: bool = False) -> None:
        self.reactor = MemoryReactorClock()
        self.client = AMIClient(host="pbx", username=REPLAY_USERNAME, secret=REPLAY_SECRET,
                                auth="plain", reactor=self.reactor, keepalive_interval=None,
                                id_generator=ActionIdGenerator("t"))
        self.tracker = CallTracker(ami=self.client, clock=self.reactor, queue_name="hotline")
        self.events: list[Any] = []
        self.dropped = 0
        self.tracker.bus.subscribe(object, self.events.append)
        self.tracker.subscribe()
        if pbx_filtered:
            # What the PBX sends a session whose filters are the subscriptions' (the client's
            # event_filter): the recorded events the filters would have dropped never arrive.
            dispatch = self.client._dispatch

            def filtered(m: Any) -> None:
                if _pbx_would_send(self.client, m):
                    dispatch(m)
                else:
                    self.dropped += 1
            self.client._dispatch = filtered  # type: ignore[method-assign]
        self.client.start()
        factory = self.reactor.tcpClients[0][2]
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        replay = TranscriptReplay(name, chunk_size=chunk_size)
        finished = replay.pump(proto, transport)
        replay.assert_finished()
        assert finished

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def names(self, *kinds: type) -> list[str]:
        """The classes of the events of C{kinds}, in order (duplicates kept)."""
        return [type(e).__name__ for e in self.events if isinstance(e, kinds)]

    def stop(self) -> None:
        self.tracker.stop()
        self.client.stop()


def _pbx_would_send(client: AMIClient, m: Any) -> bool:
    """Asterisk's include filters (``name()``, ``header()``, ``method(regex)``) as the client
    asks for them: an event passes if a subscription names it and its C{only} matches."""
    for sub in client._by_name:
        if sub.event is None or sub.event != m.event:
            continue
        if sub.only is None:
            return True
        header, regex = sub.only
        value = m.get(header)
        if value is not None and re.search(regex, value):
            return True
    return False


_CALL_EVENTS = (ev.CallArrived, ev.CallRecording, ev.CallQueued, ev.CallRinging,
                ev.CallAnswered, ev.CallEnded)


class InboundCallTests(SynchronousTestCase):
    """An inbound call's life as the real PBX told it."""

    def replay(self, name: str, **kw: Any) -> Replayed:
        r = Replayed(name, **kw)
        self.addCleanup(r.stop)
        return r

    def test_answered_call_citizen_hangs_up_first(self):
        """Arrived, recording, queued, ringing agent 1001, answered by 1001, then ended with
        the queue's reason "caller"; the view keeps the ended call with who hung up."""
        r = self.replay("answered_citizen_hangs_up.txt")
        self.assertEqual(r.names(*_CALL_EVENTS), ["CallArrived", "CallRecording", "CallQueued",
                                                  "CallRinging", "CallAnswered", "CallEnded"])
        (arrived,), (answered,), (ended,) = (r.of(ev.CallArrived), r.of(ev.CallAnswered),
                                             r.of(ev.CallEnded))
        self.assertEqual(arrived.caller, "13812345001")
        self.assertEqual(answered.agent_code, "1001")
        self.assertEqual(answered.uniqueid, arrived.uniqueid)
        self.assertEqual(ended.complete_reason, "caller")
        call = r.tracker.calls[arrived.uniqueid]
        self.assertEqual((call.state, call.hung_up_by), (CallState.ENDED, "caller"))
        # Asterisk reports the agent leg's Hangup first even here: the order is told by the
        # queue's AgentComplete reason, never by the order of the Hangup events.
        self.assertEqual([e.kind for e in r.of(ev.LegEnded)], [LegKind.AGENT, LegKind.INBOUND])
        self.assertEqual(r.tracker.legs, {})

    def test_answered_call_agent_hangs_up_first(self):
        """The same call where the agent hangs up first: the queue's reason is "agent" and the
        view says the agent hung up."""
        r = self.replay("answered_agent_hangs_up.txt")
        self.assertEqual(r.names(*_CALL_EVENTS), ["CallArrived", "CallRecording", "CallQueued",
                                                  "CallRinging", "CallAnswered", "CallEnded"])
        (ended,) = r.of(ev.CallEnded)
        self.assertEqual(ended.complete_reason, "agent")
        self.assertEqual([e.kind for e in r.of(ev.LegEnded)], [LegKind.AGENT, LegKind.INBOUND])
        call = r.tracker.calls[ended.uniqueid]
        self.assertEqual((call.state, call.hung_up_by), (CallState.ENDED, "agent"))

    def test_abandoned_in_the_queue(self):
        """Nobody logged in: queued, never rung or answered, ended; the view counts it as
        abandoned."""
        r = self.replay("abandoned_in_queue.txt")
        self.assertEqual(r.names(*_CALL_EVENTS),
                         ["CallArrived", "CallRecording", "CallQueued", "CallEnded"])
        (ended,) = r.of(ev.CallEnded)
        self.assertIsNone(ended.complete_reason)
        call = r.tracker.calls[ended.uniqueid]
        self.assertTrue(call.abandoned)
        self.assertEqual(r.tracker.abandoned, 1)
        self.assertEqual(r.tracker.answered, 0)

    def test_every_chunk_size(self):
        """The recorded bytes give the same events whatever the packet boundaries."""
        whole = self.replay("answered_citizen_hangs_up.txt").names(*_CALL_EVENTS, ev.LegEvent)
        for size in (1, 7, 64):
            self.assertEqual(self.replay("answered_citizen_hangs_up.txt", chunk_size=size)
                             .names(*_CALL_EVENTS, ev.LegEvent), whole)


class BridgeTests(SynchronousTestCase):
    """A three-way bridge as the real PBX told it."""

    def test_department_joins_the_room_and_the_citizen_ends_it(self):
        """Citizen and agent join a room, the department's leg is originated into it and
        answers; the citizen's hang-up ends the room."""
        r = Replayed("bridge_department.txt")
        self.addCleanup(r.stop)
        changes = [(e.change, e.kind) for e in r.of(ev.RoomChanged)]
        joined = {kind for change, kind in changes if change == RoomChange.JOINED}
        self.assertEqual(joined, {LegKind.INBOUND, LegKind.AGENT, LegKind.DEPARTMENT})
        self.assertEqual(changes[-1][0], RoomChange.ENDED)
        (originated,) = r.of(ev.OriginateResult)
        self.assertTrue(originated.success)
        self.assertIn(LegKind.DEPARTMENT, {e.kind for e in r.of(ev.LegAnswered)})
        self.assertEqual(r.tracker.rooms, {})


class ScheduledCallTests(SynchronousTestCase):
    """The scheduler's calls as the real PBX told them."""

    def test_callback_agent_then_citizen(self):
        """The callback's agent leg is originated (its attempt key as ChannelId), the dialplan
        reports the agent, then the citizen answering, then the end with ANSWER."""
        r = Replayed("callback_reached.txt")
        self.addCleanup(r.stop)
        (originated,) = r.of(ev.OriginateResult)
        self.assertTrue(originated.success)
        self.assertEqual(originated.kind, LegKind.CALLBACK)
        stages = [(e.stage, e.dial_status) for e in r.of(ev.CallbackProgress)]
        self.assertEqual([s for s, _ in stages], ["agent", "citizen", "end"])
        self.assertEqual(stages[-1][1], "ANSWER")
        self.assertEqual({e.key for e in r.of(ev.CallbackProgress)}, {originated.uniqueid})
        self.assertEqual(r.of(ev.CallArrived), [])

    def test_survey_reads_the_digit(self):
        """The survey leg is originated, and the dialplan reports the digit pressed."""
        r = Replayed("survey_rated.txt")
        self.addCleanup(r.stop)
        (originated,) = r.of(ev.OriginateResult)
        self.assertTrue(originated.success)
        self.assertEqual(originated.kind, LegKind.SURVEY)
        (answer,) = r.of(ev.SurveyAnswered)
        self.assertEqual(answer.digits, "4")
        self.assertEqual(answer.key, originated.uniqueid)

    def test_reminder_reads_the_duty_numbers_confirmation(self):
        """The reminder leg to a department's duty number is originated as a reminder, and the
        dialplan reports the confirming digit for that attempt; no inbound call is seen."""
        r = Replayed("reminder_confirmed.txt")
        self.addCleanup(r.stop)
        (originated,) = r.of(ev.OriginateResult)
        self.assertTrue(originated.success)
        self.assertEqual(originated.kind, LegKind.REMINDER)
        (answer,) = r.of(ev.ReminderAnswered)
        self.assertEqual(answer.digits, "1")
        self.assertEqual(answer.key, originated.uniqueid)
        self.assertEqual(r.of(ev.CallArrived), [])


class FilteredSessionTests(SynchronousTestCase):
    """The filters the tracker asks the PBX for (its subscriptions' names and C{only}) drop
    nothing it reads: every recorded call, replayed without the events they would drop,
    gives the same domain events, in the same order, as replayed whole."""

    def test_every_recording_gives_the_same_domain_events(self):
        for name in ("answered_citizen_hangs_up.txt", "answered_agent_hangs_up.txt",
                     "abandoned_in_queue.txt", "bridge_department.txt", "callback_reached.txt",
                     "survey_rated.txt", "reminder_confirmed.txt"):
            whole = Replayed(name)
            filtered = Replayed(name, pbx_filtered=True)
            try:
                self.assertGreater(filtered.dropped, 0, name)
                self.assertEqual(filtered.events, whole.events, name)
                self.assertEqual({u: c.state for u, c in filtered.tracker.calls.items()},
                                 {u: c.state for u, c in whole.tracker.calls.items()}, name)
            finally:
                whole.stop()
                filtered.stop()
