"""Tests for L{hotline.agi.wire}: the variable block and reply-line parsers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hotline.agi.errors import AGIError, AGIProtocolError
from hotline.agi.routes import RouteTable
from hotline.agi.wire import decode_text, parse_reply, parse_variable_block, request_from_variables
from tests.agi.support import VARIABLE_BLOCK, Session


class VariableBlockParserTests(SynchronousTestCase):
    """parse_variable_block() and request_from_variables()."""

    def test_realistic(self) -> None:
        """Every variable of a real block is read, empty values included."""
        variables = parse_variable_block(VARIABLE_BLOCK.rstrip(b"\n"))
        self.assertEqual(variables["agi_uniqueid"], "1718000000.1")
        self.assertEqual(variables["agi_accountcode"], "")
        self.assertEqual(len(variables), 24)

    def test_value_with_colon(self) -> None:
        """Only the first colon separates name and value."""
        variables = parse_variable_block(b"agi_request: agi://h:4573/x")
        self.assertEqual(variables["agi_request"], "agi://h:4573/x")

    def test_no_agi_variable(self) -> None:
        """A block without agi_* variables raises AGIProtocolError."""
        self.assertRaises(AGIProtocolError, parse_variable_block, b"Host: x")

    def test_script_query_and_args(self) -> None:
        """The script path is split from its query; agi_arg_N are collected in order."""
        request = request_from_variables({
            "agi_network_script": "/callback%20x?ticket=7&lang=zh&lang=en",
            "agi_arg_1": "a", "agi_arg_2": "", "agi_arg_4": "skipped"})
        self.assertEqual(request.script, "callback x")
        self.assertEqual(request.query, {"ticket": "7", "lang": "en"})
        self.assertEqual(request.args, ("a", ""))
        self.assertEqual(request.get("arg_1"), "a")

    def test_decode_fallbacks(self) -> None:
        """UTF-8, then GB18030, then Latin-1: decoding never fails."""
        self.assertEqual(decode_text("张三".encode()), "张三")
        self.assertEqual(decode_text("张三".encode("gb18030")), "张三")
        self.assertEqual(decode_text(b"\xff\xff\xff"), "\xff\xff\xff")

    @given(st.binary(max_size=512))
    def test_block_parser_total(self, data: bytes) -> None:
        """On arbitrary bytes the block parser returns a dict or raises AGIProtocolError."""
        try:
            variables = parse_variable_block(data)
        except AGIProtocolError:
            return
        self.assertTrue(any(k.startswith("agi_") for k in variables))
        request_from_variables(variables)


class ReplyParserTests(SynchronousTestCase):
    """parse_reply()."""

    def test_forms(self) -> None:
        """Result, parenthesised data and endpos are each read."""
        self.assertEqual(parse_reply("200 result=0").result, "0")
        reply = parse_reply("200 result=1 (a (b) c) endpos=1234")
        self.assertEqual((reply.result, reply.data, reply.endpos), ("1", "a (b) c", 1234))
        reply = parse_reply("200 result=0 endpos=99")
        self.assertEqual((reply.data, reply.endpos), (None, 99))
        self.assertEqual(parse_reply("200 result= (timeout)").data, "timeout")

    def test_non_numeric_result(self) -> None:
        """result_int() on a non-number raises AGIProtocolError."""
        self.assertRaises(AGIProtocolError, parse_reply("200 result=abc").result_int)

    def test_unknown_code(self) -> None:
        """Another status code is an AGIError; text that is no reply an AGIProtocolError."""
        error = self.assertRaises(AGIError, parse_reply, "530 Something new")
        self.assertNotIsInstance(error, AGIProtocolError)
        self.assertRaises(AGIProtocolError, parse_reply, "hello")

    @given(st.binary(max_size=200))
    def test_reply_parser_total(self, data: bytes) -> None:
        """On arbitrary bytes the reply parser returns a reply or raises an AGIError."""
        try:
            reply = parse_reply(decode_text(data))
        except AGIError:
            return
        try:
            reply.result_int()
        except AGIProtocolError:
            pass

    @given(st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=60),
           st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)))
    def test_data_round_trip(self, value: str, endpos: int | None) -> None:
        """Whatever the value, C{200 result=1 (value) [endpos=N]} gives it back."""
        line = f"200 result=1 ({value})" + (f" endpos={endpos}" if endpos is not None else "")
        reply = parse_reply(line)
        self.assertEqual(reply.data, value)
        if endpos is not None and ")" not in value:
            self.assertEqual(reply.endpos, endpos)

    @given(st.binary(max_size=300), st.integers(min_value=1, max_value=9))
    def test_protocol_total(self, data: bytes, size: int) -> None:
        """Arbitrary bytes after a valid block never escape dataReceived as an exception."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: object) -> None:
            for _ in range(3):
                try:
                    await channel.get_variable("X")  # type: ignore[attr-defined]
                except AGIError:
                    pass

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + data, size)
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])
