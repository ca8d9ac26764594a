"""Tests for L{hotline.ami.protocol}: framing in every chunk size, decoding, limits, routing."""

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami.actions import Action, ActionIdGenerator, AMIActionTimeout, AMIConnectionLost
from hotline.ami.protocol import AMIProtocol, MalformedMessage

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
STREAM = (
    BANNER
    + b"Event: Newchannel\r\nChannel: PJSIP/trunk-1\r\nCallerIDName: \xe5\xbc\xa0\xe4\xb8\x89\r\n"
    b"Uniqueid: 1.1\r\n\r\n"
    b"Event: Newstate\r\nUniqueid: 1.1\r\nChanVariable: TICKET=42\r\nChanVariable: LANG=zh\r\n\r\n"
    b"Event: Hangup\r\nUniqueid: 1.1\r\nCause: 16\r\n\r\n"
)


class RecordingProtocol(AMIProtocol):
    """An AMIProtocol that keeps what it hands out."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.events = []
        self.failures = []
        self.exceeded = []
        self.skipped = []

    def eventReceived(self, message):
        self.events.append(message)

    def messageParseFailed(self, frame, error):
        self.failures.append((frame, error))

    def messageLengthExceeded(self, data):
        self.exceeded.append(len(data))
        super().messageLengthExceeded(data)

    def messageSkipped(self, size):
        self.skipped.append(size)
        super().messageSkipped(size)


def connect(**kw):
    proto = RecordingProtocol(**kw)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def feed(proto, data, size):
    for i in range(0, len(data), size):
        proto.dataReceived(data[i : i + size])


class FramingTests(SynchronousTestCase):
    """Messages are framed on the blank line whatever the packet boundaries."""

    def test_every_chunk_size(self):
        """The stream gives the same messages fed 1 to 9 bytes at a time."""
        for size in range(1, 10):
            proto, _ = connect()
            feed(proto, STREAM, size)
            self.assertEqual([m.name for m in proto.events], ["Newchannel", "Newstate", "Hangup"])
            self.assertEqual(proto.banner, "Asterisk Call Manager/9.0.0")
            self.assertEqual(proto.events[0]["CallerIDName"], "张三")
            self.assertEqual(proto.events[1]["ChanVariable"], ["TICKET=42", "LANG=zh"])

    def test_header_split_across_reads(self):
        """A header cut anywhere by a read boundary (in its name, its value, its CRLF) reads the
        same as one that came whole, and so does the event's name."""
        data = "Event: Newstate\r\nCallerIDName: 张三\r\nUniqueid: 1.1\r\n\r\n".encode()
        for cut in range(1, len(data)):
            proto, _ = connect()
            proto.dataReceived(BANNER + data[:cut])
            proto.dataReceived(data[cut:])
            [event] = proto.events
            self.assertEqual((event.name, event.get("Uniqueid")), ("Newstate", "1.1"), cut)
            self.assertEqual(event.get("CallerIDName"), "张三", cut)

    def test_utf8_split_across_packets(self):
        """A multi-byte character cut by a packet boundary survives."""
        data = "Event: Newchannel\r\nCallerIDName: 张三\r\n\r\n".encode()
        cut = data.index("张".encode()) + 1
        proto, _ = connect()
        proto.dataReceived(BANNER + data[:cut])
        proto.dataReceived(data[cut:])
        self.assertEqual(proto.events[0]["CallerIDName"], "张三")

    def test_gb18030_caller_name(self):
        """A GB18030 caller name (not UTF-8) survives, in every chunk size."""
        data = BANNER + b"Event: Newchannel\r\nCallerIDName: " + "王五".encode("gb18030") + (
            b"\r\nUniqueid: 1.2\r\n\r\nEvent: Hangup\r\nCallerIDName: \xe6\x9d\x8e\r\n\r\n")
        for size in range(1, 10):
            proto, _ = connect()
            feed(proto, data, size)
            self.assertEqual(proto.events[0]["CallerIDName"], "王五")
            self.assertEqual(proto.events[1]["CallerIDName"], "李")

    def test_latin1_caller_name(self):
        """Bytes that are neither UTF-8 nor GB18030 decode as Latin-1."""
        proto, _ = connect()
        proto.dataReceived(BANNER + b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\n")
        self.assertEqual(proto.events[0]["CallerIDName"], "José")

    def test_bare_newlines(self):
        """A peer ending lines with bare LF is framed on LF LF, in every chunk size."""
        data = b"Event: A\nUniqueid: 1\n\nEvent: B\r\nUniqueid: 2\r\n\r\nEvent: C\n\n"
        for size in range(1, 10):
            proto, _ = connect()
            feed(proto, data, size)
            self.assertEqual([(m.name, m.get("Uniqueid")) for m in proto.events],
                             [("A", "1"), ("B", "2"), ("C", None)])

    def test_no_banner(self):
        """A stream without the greeting line is read all the same."""
        proto, _ = connect()
        proto.dataReceived(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
        self.assertIsNone(proto.banner)
        self.assertEqual(proto.events[0]["Status"], "Fully Booted")

    def test_extra_blank_lines(self):
        """Blank lines between messages are skipped."""
        proto, _ = connect()
        proto.dataReceived(BANNER + b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n")
        self.assertEqual([m.name for m in proto.events], ["A", "B"])
        self.assertEqual(proto.failures, [])

    def test_garbage_is_reported_not_raised(self):
        """A frame that is not AMI goes to messageParseFailed and the next one is read."""
        proto, transport = connect()
        proto.dataReceived(BANNER + b"\x00\xff garbage\r\n\r\nEvent: A\r\n\r\n")
        self.assertEqual(len(proto.failures), 1)
        self.assertIsInstance(proto.failures[0][1], MalformedMessage)
        self.assertEqual([m.name for m in proto.events], ["A"])
        self.assertFalse(transport.disconnecting)

    def test_message_of_one_mebibyte_is_parsed(self):
        """A 1 MiB message (a long VarSet value, Command output) is parsed, whatever the reads."""
        value = b"v" * (1024 * 1024)
        data = BANNER + b"Event: VarSet\r\nValue: " + value + b"\r\n\r\nEvent: After\r\n\r\n"
        for size in (1400, 4093, 65536, len(data)):
            proto, transport = connect()
            feed(proto, data, size)
            self.assertEqual([m.name for m in proto.events], ["VarSet", "After"])
            self.assertEqual(len(proto.events[0]["Value"]), len(value))
            self.assertEqual(proto.exceeded, [])
            self.assertFalse(transport.disconnecting)

    def test_too_long_is_skipped_to_its_end(self):
        """A message past MAX_MESSAGE is reported and skipped to its blank line; the link stays
        up and the next message arrives, in every chunk size."""
        data = (BANNER + b"Event: A\r\n\r\nEvent: Big\r\nX: " + b"y" * 300
                + b"\r\nZ: z\r\n\r\nEvent: B\r\nUniqueid: 2\r\n\r\n")
        for size in range(1, 10):
            proto, transport = connect(max_message=100)
            feed(proto, data, size)
            self.assertEqual([m.name for m in proto.events], ["A", "B"], size)
            self.assertEqual(proto.events[1]["Uniqueid"], "2")
            self.assertEqual(len(proto.exceeded), 1)
            self.assertEqual(proto.skipped, [len(b"Event: Big\r\nX: " + b"y" * 300
                                                 + b"\r\nZ: z\r\n\r\n")])
            self.assertFalse(transport.disconnecting)

    def test_too_long_in_one_read(self):
        """A whole oversized message arriving in one read is skipped; its neighbours arrive."""
        proto, transport = connect()
        proto.dataReceived(BANNER + b"Event: A\r\nX: " + b"y" * AMIProtocol.MAX_MESSAGE
                           + b"\r\n\r\nEvent: B\r\n\r\n")
        self.assertEqual(len(proto.exceeded), 1)
        self.assertEqual([m.name for m in proto.events], ["B"])
        self.assertFalse(transport.disconnecting)

    def test_reply_after_skipped_message_reaches_its_action(self):
        """An action's reply that follows an oversized event is still routed to it."""
        proto, transport = connect(max_message=64)
        d = proto.send_action(Action("Ping", ActionID="p-1"))
        proto.dataReceived(BANNER + b"Event: Big\r\nX: " + b"y" * 200 + b"\r\n\r\n"
                           + b"Response: Success\r\nActionID: p-1\r\nPing: Pong\r\n\r\n")
        self.assertEqual(self.successResultOf(d)["Ping"], "Pong")
        self.assertFalse(transport.disconnecting)

    def test_stops_delivering_when_disconnecting(self):
        """Once a handler closes the link, no further message is delivered."""
        proto, transport = connect()
        original = proto.eventReceived

        def closing(message):
            original(message)
            transport.loseConnection()

        proto.eventReceived = closing
        proto.dataReceived(STREAM)
        self.assertEqual(len(proto.events), 1)

    def test_reentrant_data(self):
        """Data fed from inside a handler is framed after the current round, in order."""
        proto, _ = connect()
        original = proto.eventReceived

        def feeding(message):
            original(message)
            if message.name == "A":
                proto.dataReceived(b"Event: C\r\n\r\n")

        proto.eventReceived = feeding
        proto.dataReceived(BANNER + b"Event: A\r\n\r\nEvent: B\r\n\r\n")
        self.assertEqual([m.name for m in proto.events], ["A", "B", "C"])


class PendingActionTests(SynchronousTestCase):
    """Replies find their pending action by ActionID."""

    def setUp(self):
        self.clock = Clock()
        self.proto, self.transport = connect(clock=self.clock, action_timeout=5)
        self.ids = ActionIdGenerator("t")
        self.proto.dataReceived(BANNER)

    def test_reply_routed(self):
        """A response fires its action; the action is written and then forgotten."""
        d = self.proto.send_action(Action("Ping", id_generator=self.ids))
        self.assertEqual(self.transport.value(), b"Action: Ping\r\nActionID: t-1\r\n\r\n")
        self.proto.dataReceived(b"Response: Success\r\nActionID: t-1\r\nPing: Pong\r\n\r\n")
        self.assertEqual(self.successResultOf(d)["Ping"], "Pong")
        self.assertEqual(self.proto.pending, {})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_list_events_not_dispatched(self):
        """Events belonging to a list action go to it, not to eventReceived."""
        d = self.proto.send_action(Action("CoreShowChannels", id_generator=self.ids))
        data = (b"Response: Success\r\nActionID: t-1\r\nEventList: start\r\n\r\n"
                b"Event: Newchannel\r\nUniqueid: 9\r\n\r\n"
                b"Event: CoreShowChannel\r\nActionID: t-1\r\nUniqueid: 1\r\n\r\n"
                b"Event: CoreShowChannelsComplete\r\nActionID: t-1\r\nEventList: Complete\r\n\r\n")
        for size in range(1, 10):
            if size > 1:
                d = self.proto.send_action(Action("CoreShowChannels", ActionID="t-1"))
            feed(self.proto, data, size)
            self.assertEqual(len(self.successResultOf(d)), 3)
        self.assertEqual([m.name for m in self.proto.events], ["Newchannel"] * 9)

    def test_timeout(self):
        """An unanswered action times out on the clock and is forgotten; nothing is left."""
        d = self.proto.send_action(Action("Ping", id_generator=self.ids))
        self.clock.advance(5)
        self.failureResultOf(d, AMIActionTimeout)
        self.assertEqual(self.proto.pending, {})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancel_forgets(self):
        """Cancelling removes the action from the pending table; a late reply is unmatched."""
        d = self.proto.send_action(Action("Ping", id_generator=self.ids))
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(self.proto.pending, {})
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.proto.dataReceived(b"Response: Success\r\nActionID: t-1\r\n\r\n")

    def test_connection_lost_fails_pending(self):
        """Pending actions fail with AMIConnectionLost when the link drops."""
        d = self.proto.send_action(Action("Originate", id_generator=self.ids))
        self.proto.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(d, AMIConnectionLost)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        later = self.proto.send_action(Action("Ping", id_generator=self.ids))
        self.failureResultOf(later, AMIConnectionLost)

    def test_duplicate_id_refused(self):
        """Two pending actions cannot share an ActionID."""
        self.proto.send_action(Action("Ping", ActionID="x"))
        self.assertRaises(ValueError, self.proto.send_action, Action("Ping", ActionID="x"))


class FastPathTests(SynchronousTestCase):
    """The one-split framing and the inline event routing change nothing that is observable."""

    def test_mixed_endings_any_chunking_same_as_whole(self):
        """CRLF and bare-LF messages, with GB18030 and broken bytes, frame alike in any chunks."""
        data = (BANNER + b"Event: A\r\nCallerIDName: " + "王五".encode("gb18030") + b"\r\n\r\n"
                b"Event: B\nUniqueid: 2\n\nEvent: C\r\nName: \xff\xfe\r\n\r\n"
                b"Event: D\r\nUniqueid: 4\n\r\nEvent: E\r\n\r\n")
        whole, _ = connect()
        whole.dataReceived(data)
        expected = [(m.name, m.as_dict()) for m in whole.events]
        self.assertEqual([name for name, _ in expected], ["A", "B", "C", "D", "E"])
        self.assertEqual(whole.events[0]["CallerIDName"], "王五")
        for size in (1, 2, 3, 5, 7, 64):
            proto, _ = connect()
            feed(proto, data, size)
            self.assertEqual([(m.name, m.as_dict()) for m in proto.events], expected)

    def test_message_received_override_still_sees_events(self):
        """A subclass overriding messageReceived gets every message (no inline shortcut)."""

        class Overriding(AMIProtocol):
            def __init__(self):
                super().__init__()
                self.seen = []

            def messageReceived(self, message):
                self.seen.append(message.name)

        proto = Overriding()
        proto.makeConnection(StringTransport())
        proto.dataReceived(STREAM)
        self.assertEqual(proto.seen, ["Newchannel", "Newstate", "Hangup"])

    def test_on_event_gets_events(self):
        """With on_event and no override, events go straight to it."""
        seen = []
        proto = AMIProtocol(on_event=seen.append)
        proto.makeConnection(StringTransport())
        proto.dataReceived(STREAM)
        self.assertEqual([m.name for m in seen], ["Newchannel", "Newstate", "Hangup"])

    def test_long_frame_among_short_ones(self):
        """One frame over MAX_MESSAGE in a big chunk is reported; the ones before it arrive."""
        proto, _ = connect()
        big = b"Event: Big\r\nData: " + b"x" * (proto.MAX_MESSAGE + 10) + b"\r\n\r\n"
        proto.dataReceived(BANNER + b"Event: Small\r\n\r\n" + big)
        self.assertEqual([m.name for m in proto.events], ["Small"])
        self.assertEqual(len(proto.exceeded), 1)
