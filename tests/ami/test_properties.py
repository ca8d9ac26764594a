"""Property tests for the AMI parser: it never raises, and what we serialise parses back."""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami.message import Message
from hotline.ami.protocol import AMIProtocol

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30
)


class Collecting(AMIProtocol):
    def __init__(self):
        super().__init__()
        self.events = []

    def eventReceived(self, message):
        self.events.append(message)


class ParserPropertyTests(SynchronousTestCase):
    """The parser holds up under arbitrary input."""

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=2000), st.integers(1, 64))
    def test_never_raises(self, data, size):
        """Arbitrary bytes in arbitrary chunks never raise out of dataReceived or lookups."""
        proto = Collecting()
        proto.makeConnection(StringTransport())
        for i in range(0, len(data), size):
            proto.dataReceived(data[i : i + size])
        for message in proto.events:
            message.as_dict()
            message.name  # noqa: B018
            message.output  # noqa: B018

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(names, values), min_size=1, max_size=12), st.integers(1, 9))
    def test_round_trip(self, headers, size):
        """An event serialised then parsed in any chunk size has the same headers in order."""
        pairs = [("Event", "Test"), *headers]
        data = Message.from_pairs(pairs).serialize() * 2
        proto = Collecting()
        proto.makeConnection(StringTransport())
        for i in range(0, len(data), size):
            proto.dataReceived(data[i : i + size])
        self.assertEqual(len(proto.events), 2)
        got = proto.events[0]
        for name in {n.lower(): n for n, _ in pairs}.values():
            expected = [v for n, v in pairs if n.lower() == name.lower()]
            self.assertEqual(got.getlist(name), expected)

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(["Uniqueid", "uniqueid", "UNIQUEID", "Linkedid",
                                       "LIN\u212aEDID", "Channel", "Key"]),
                      values),
            max_size=6,
        ),
        st.sampled_from(["Uniqueid", "uniqueid", "Linkedid", "linkedid", "Channel", "Key",
                         "\u212aey", "Missing"]),
    )
    def test_one_header_read_equals_a_full_parse(self, headers, name):
        """One header read from a framed event (its bytes) gives what the parsed mapping gives,
        with repeats, other spellings, the Kelvin sign and any value characters."""
        data = Message.from_pairs([("Event", "Test"), *headers]).serialize()
        proto = Collecting()
        proto.makeConnection(StringTransport())
        proto.dataReceived(b"Asterisk Call Manager/9.0.0\r\n" + data)
        [framed] = proto.events
        parsed = Message(framed.raw)
        parsed._parse()
        self.assertEqual(framed.get(name, "-"), parsed.get(name, "-"))
