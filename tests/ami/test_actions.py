"""Tests for L{hotline.ami.actions}: ids, serialisation, completion, timeouts, cancellation."""

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami.actions import (
    Action,
    ActionIdGenerator,
    AMIActionTimeout,
    AMIError,
)
from hotline.ami.message import Message


def msg(text: str) -> Message:
    return Message(text.replace("\n", "\r\n"))


class ActionTests(SynchronousTestCase):
    """An L{Action} decides for itself when its reply is complete."""

    def setUp(self):
        self.ids = ActionIdGenerator("t")

    def test_ids_are_deterministic(self):
        """The injected generator numbers actions prefix-1, prefix-2, ..."""
        self.assertEqual([Action("Ping", id_generator=self.ids).action_id for _ in range(2)],
                         ["t-1", "t-2"])
        self.assertEqual(Action("Ping", ActionID="mine").action_id, "mine")

    def test_serialize_repeats_list_headers(self):
        """A list value becomes one header line per item (Originate's Variable)."""
        a = Action("Originate", {"Variable": ["A=1", "B=2"]}, Channel="PJSIP/8001",
                   id_generator=self.ids)
        self.assertEqual(
            a.serialize(),
            b"Action: Originate\r\nActionID: t-1\r\nVariable: A=1\r\nVariable: B=2\r\n"
            b"Channel: PJSIP/8001\r\n\r\n",
        )

    def test_header_injection_refused(self):
        """A header value with a line break raises ValueError instead of forging an action."""
        self.assertRaises(ValueError, Action, "Hangup", Channel="x\r\nAction: Originate")

    def test_plain_reply(self):
        """A plain action fires with its one response."""
        a = Action("Ping", id_generator=self.ids)
        self.assertTrue(a.add_message(msg("Response: Success\nActionID: t-1\nPing: Pong")))
        self.assertEqual(self.successResultOf(a.deferred)["Ping"], "Pong")

    def test_error_reply(self):
        """Response: Error fails the Deferred with AMIError carrying the message."""
        a = Action("Hangup", Channel="PJSIP/x", id_generator=self.ids)
        a.add_message(msg("Response: Error\nActionID: t-1\nMessage: No such channel"))
        error = self.failureResultOf(a.deferred, AMIError).value
        self.assertEqual(error.message["Message"], "No such channel")
        self.assertIn("No such channel", str(error))

    def test_list_reply(self):
        """A list action collects the response and its events up to EventList: Complete."""
        a = Action("CoreShowChannels", id_generator=self.ids)
        self.assertFalse(a.add_message(msg("Response: Success\nActionID: t-1\nEventList: start")))
        self.assertFalse(a.add_message(msg("Event: CoreShowChannel\nActionID: t-1\nUniqueid: 1")))
        self.assertNoResult(a.deferred)
        self.assertTrue(a.add_message(
            msg("Event: CoreShowChannelsComplete\nActionID: t-1\nEventList: Complete")))
        names = [m.name for m in self.successResultOf(a.deferred)]
        self.assertEqual(names, ["Success", "CoreShowChannel", "CoreShowChannelsComplete"])

    def test_timeout_with_clock(self):
        """No reply within the limit fails with AMIActionTimeout and leaves no timer behind."""
        clock = Clock()
        a = Action("Ping", id_generator=self.ids)
        a.start_timer(clock, 5)
        clock.advance(4.9)
        self.assertNoResult(a.deferred)
        clock.advance(0.2)
        self.failureResultOf(a.deferred, AMIActionTimeout)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_completion_cancels_timer(self):
        """A reply in time cancels the timeout's DelayedCall."""
        clock = Clock()
        a = Action("Ping", id_generator=self.ids)
        a.start_timer(clock, 5)
        a.add_message(msg("Response: Success\nActionID: t-1"))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.successResultOf(a.deferred)

    def test_cancel(self):
        """Cancelling the Deferred finishes the action, runs on_finish and stops the timer."""
        clock = Clock()
        a = Action("QueueStatus", id_generator=self.ids)
        finished = []
        a.on_finish(finished.append)
        a.start_timer(clock, 5)
        a.deferred.cancel()
        self.failureResultOf(a.deferred, CancelledError)
        self.assertEqual(finished, [a])
        self.assertTrue(a.done)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertTrue(a.add_message(msg("Response: Success\nActionID: t-1")))

    def test_read_only(self):
        """Queries are read-only; world-changing actions and non-show commands are not."""
        self.assertTrue(Action("Ping").read_only)
        self.assertTrue(Action("QueueStatus").read_only)
        self.assertTrue(Action("Command", Command="core show channels").read_only)
        self.assertFalse(Action("Command", Command="module reload").read_only)
        self.assertFalse(Action("Originate", Channel="PJSIP/1").read_only)
        self.assertFalse(Action("Redirect").read_only)

    def test_copy_gets_new_id(self):
        """A retry copy keeps the headers under a fresh ActionID and Deferred."""
        a = Action("Status", Channel="PJSIP/1", id_generator=self.ids)
        b = a.copy()
        self.assertEqual((b.name, b.headers, b.action_id), ("Status", a.headers, "t-2"))
        self.assertIsNot(a.deferred, b.deferred)
