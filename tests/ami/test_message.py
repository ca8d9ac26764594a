"""Tests for L{hotline.ami.message}: case-insensitive lookup, repeated headers, variable lists."""

import doctest

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from hotline.ami import actions, message, protocol
from hotline.ami.message import Message, parse_variables
from hotline.ami.protocol import AMIProtocol


class MessageTests(SynchronousTestCase):
    """A L{Message} is a forgiving view of one response or event."""

    def test_lookup_ignores_case(self):
        """Headers are found whatever the case of the name asked for."""
        m = Message("Event: Hangup\r\nUniqueid: 1.2\r\nCause-txt: Normal Clearing")
        self.assertEqual(m["UNIQUEID"], "1.2")
        self.assertEqual(m.get("cause-TXT"), "Normal Clearing")
        self.assertIn("uniqueid", m)
        self.assertNotIn("Linkedid", m)
        self.assertRaises(KeyError, lambda: m["Linkedid"])

    def test_repeated_headers_become_lists(self):
        """Repeated ChanVariable headers are all kept, in order, and parse into a dict."""
        m = Message("Event: Newstate\r\nChanVariable: TICKET=42\r\nchanvariable: LANG=zh\r\n"
                    "ChanVariable: EMPTY=")
        self.assertEqual(m["ChanVariable"], ["TICKET=42", "LANG=zh", "EMPTY="])
        self.assertEqual(m.variables(), {"TICKET": "42", "LANG": "zh", "EMPTY": ""})
        self.assertEqual(m.getlist("Event"), ["Newstate"])

    def test_single_variable(self):
        """One ChanVariable header is still a dict of one."""
        self.assertEqual(Message("Event: X\r\nChanVariable: A=1").variables(), {"A": "1"})
        self.assertEqual(parse_variables(["A=1=2"]), {"A": "1=2"})

    def test_colon_without_space_and_bare_lines(self):
        """A header without the space after its colon parses; bare lines end up in output."""
        m = Message("Response: Follows\r\nPrivilege:Command\r\nraw output line")
        self.assertEqual(m["Privilege"], "Command")
        self.assertEqual(m.output, ["raw output line"])

    def test_command_output_headers(self):
        """Asterisk 22's Command reply lists its lines as Output headers, empty ones included."""
        m = Message("Response: Success\r\nMessage: Command output follows\r\n"
                    "Output: 1 active channel\r\nOutput: \r\nOutput: 37 calls processed")
        self.assertEqual(m.output, ["1 active channel", "", "37 calls processed"])

    def test_identity(self):
        """Events know their name; responses their status and ActionID."""
        event = Message("Event: Newchannel\r\nActionID: a-1")
        response = Message("ActionID: a-2\r\nResponse: Error\r\nMessage: nope")
        self.assertTrue(event.is_event)
        self.assertFalse(event.is_response)
        self.assertEqual(event.name, "Newchannel")
        self.assertEqual(response.name, "Error")
        self.assertTrue(response.is_response)
        self.assertEqual(response.action_id, "a-2")

    def test_from_pairs_round_trip(self):
        """A message built from pairs serialises to the wire form and back."""
        m = Message.from_pairs([("Event", "Hangup"), ("CallerIDName", "张三")])
        self.assertEqual(m.serialize(), "Event: Hangup\r\nCallerIDName: 张三\r\n\r\n".encode())
        self.assertEqual(m.as_dict(), {"Event": "Hangup", "CallerIDName": "张三"})

    def test_from_pairs_refuses_line_breaks(self):
        """A value with CRLF would forge a header, so it is refused."""
        self.assertRaises(ValueError, Message.from_pairs, [("Channel", "x\r\nAction: Hangup")])

    def test_doctests(self):
        """The examples in the modules' docstrings hold."""
        for module in (message, actions, protocol):
            failed, _ = doctest.testmod(module)
            self.assertEqual(failed, 0, module.__name__)


class LazyParseTests(SynchronousTestCase):
    """Headers are split on first use, whichever accessor comes first."""

    def test_output_first(self):
        """C{output} on a fresh message parses it (Output headers, then bare lines)."""
        message = Message("Response: Follows\r\nOutput: one\r\nbare line", event=None)
        self.assertEqual(message.output, ["one", "bare line"])

    def test_event_given_then_lookup(self):
        """A message built with its event name parses on the first header lookup."""
        message = Message("Event: Hangup\r\nuniqueid: 1.1\r\nUniqueid: 1.2", "Hangup")
        self.assertEqual(message["UNIQUEID"], ["1.1", "1.2"])
        self.assertEqual(len(message), 2)


class OneHeaderTests(SynchronousTestCase):
    """Reading one header of an event cuts it out of the text, with the same answers as a full
    parse in every case where the two could differ."""

    def test_a_header_standing_once_is_read_without_parsing_the_rest(self):
        """The Uniqueid of an event comes back while the other headers stay unparsed."""
        m = Message("Event: Newchannel\r\nChannel: PJSIP/x-1\r\nUniqueid: 1.1\r\nLinkedid: 1.1")
        self.assertEqual(m.get("Uniqueid"), "1.1")
        self.assertIsNone(m._headers)
        self.assertEqual(Message("Event: Hangup\r\nUniqueid: 2.2").get("Uniqueid"), "2.2")

    def test_the_answers_equal_a_full_parse(self):
        """Repeated headers, other spellings, the first line, a missing header, an empty value:
        the same answers as the parsed mapping."""
        texts = ["Event: Newstate\r\nChanVariable: A=1\r\nChanVariable: B=2",
                 "Event: X\r\nUniqueid: 1\r\nuniqueid: 2",
                 "Uniqueid: 1\r\nEvent: X",
                 "Event: X\r\nChannel: c",
                 "Event: X\r\nAccountCode: \r\nUniqueid: 3"]
        for text in texts:
            for name in ("ChanVariable", "Uniqueid", "AccountCode", "Channel", "Missing"):
                parsed = Message(text)
                parsed._parse()
                self.assertEqual(Message(text).get(name, "-"), parsed.get(name, "-"),
                                 (text, name))

    def test_read_from_the_framed_bytes(self):
        """An event framed from the wire reads its header from the bytes: a value holding ': '
        or Chinese comes back whole, a GB18030 message (no UTF-8 bytes kept) from the text."""
        proto = AMIProtocol(on_event=(events := []).append)
        proto.makeConnection(StringTransport())
        proto.dataReceived(
            b"Asterisk Call Manager/9.0.0\r\n"
            + "Event: VarSet\r\nCallerIDName: 张三\r\nValue: a: b\r\nUniqueid: 1.1\r\n\r\n".encode()
            + b"Event: Newchannel\r\nCallerIDName: " + "王五".encode("gb18030")
            + b"\r\nUniqueid: 2.2\r\n\r\n"
        )
        utf8, gb = events
        self.assertIsNotNone(utf8._frame)
        self.assertEqual((utf8.get("Value"), utf8.get("Uniqueid")), ("a: b", "1.1"))
        self.assertEqual(utf8.get("CallerIDName"), "张三")
        self.assertIsNone(utf8._headers)
        self.assertIsNone(gb._frame)
        self.assertEqual((gb.get("Uniqueid"), gb.get("CallerIDName")), ("2.2", "王五"))

    def test_first_line_event_or_response(self):
        """A header is read alike whether the first line is Event or Response, and a header
        standing as the first line is left to the parse (no CRLF stands before it)."""

        class Keeping(AMIProtocol):
            def unmatchedResponse(self, message):
                responses.append(message)

        responses, events = [], []
        proto = Keeping(on_event=events.append)
        proto.makeConnection(StringTransport())
        proto.dataReceived(
            b"Asterisk Call Manager/9.0.0\r\n"
            b"Response: Success\r\nActionID: x-1\r\nUniqueid: 3.3\r\n\r\n"
            b"Event: Hangup\r\nUniqueid: 4.4\r\n\r\n"
            b"Uniqueid: 5.5\r\nEvent: Hangup\r\nuniqueid: 5.6\r\n\r\n"
        )
        [response] = responses
        self.assertEqual((response.name, response.get("Uniqueid")), ("Success", "3.3"))
        hangup, odd = events
        self.assertEqual(hangup.get("Uniqueid"), "4.4")
        self.assertEqual(odd.get("Uniqueid"), ["5.5", "5.6"])
