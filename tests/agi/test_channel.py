"""Tests for L{hotline.agi.channel}: argument quoting and each command's reply handling."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from hotline.agi.channel import (
    AGIChannel,
    DigitResult,
    GetDataResult,
    format_command,
    quote_argument,
)
from hotline.agi.errors import AGIError, AGIResultError, AGIUsageError
from hotline.agi.wire import AGIReply, AGIRequest, parse_reply

T = TypeVar("T")

MAX_ARGS = 128


def asterisk_parse_args(line: str) -> list[str]:
    """A line-for-line port of Asterisk's C{parse_args()} (res_agi.c): the reference unquoter."""
    argv: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    whitespace = True

    def start() -> None:
        nonlocal cur
        cur = []
        argv.append("")

    def flush() -> None:
        if cur is not None:
            argv[-1] = "".join(cur)

    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                flush()
                start()
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            if len(argv) >= MAX_ARGS - 1:
                continue
            flush()
            start()
            whitespace = False
        assert cur is not None
        cur.append(ch)
        escaped = False
    flush()
    return argv


class FakeSender:
    """Answers each command from a script of reply lines and records what was sent."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.sent: list[bytes] = []

    def send_command(self, line: bytes) -> Deferred[AGIReply]:
        self.sent.append(line)
        try:
            return succeed(parse_reply(self.replies.pop(0)))
        except AGIError as error:
            return fail(error)


def run(coroutine: Coroutine[Any, Any, T]) -> Deferred[T]:
    """Wrap a coroutine the way the server does."""
    return Deferred.fromCoroutine(coroutine)


def channel_with(*replies: str) -> tuple[AGIChannel, FakeSender]:
    """A channel over a L{FakeSender} with the given replies."""
    sender = FakeSender(*replies)
    return AGIChannel(sender, AGIRequest(variables={"agi_uniqueid": "1.1"})), sender


class QuotingTests(SynchronousTestCase):
    """Arguments are quoted in one place and Asterisk reads them back unchanged."""

    def test_plain(self) -> None:
        """A plain word is double-quoted."""
        self.assertEqual(quote_argument("abc"), '"abc"')

    def test_quotes_and_backslashes(self) -> None:
        """Double quotes and backslashes are backslash-escaped."""
        self.assertEqual(quote_argument('a"b\\c'), '"a\\"b\\\\c"')

    def test_chinese(self) -> None:
        """Chinese text is sent as UTF-8 inside the quotes."""
        line = format_command("SET VARIABLE", "NAME", "张三 先生")
        self.assertEqual(line, 'SET VARIABLE "NAME" "张三 先生"\n'.encode())

    def test_newline_refused(self) -> None:
        """A newline (which would inject a second command) raises before anything is sent."""
        channel, sender = channel_with("200 result=1")
        d = run(channel.set_variable("X", "1\nHANGUP"))
        self.failureResultOf(d, AGIUsageError)
        self.assertEqual(sender.sent, [])

    def test_carriage_return_and_nul_refused(self) -> None:
        """A carriage return or a NUL byte is refused like a newline."""
        self.assertRaises(AGIUsageError, quote_argument, "a\rb")
        self.assertRaises(AGIUsageError, quote_argument, "a\0b")

    def test_integer(self) -> None:
        """Integers are sent as decimal text."""
        self.assertEqual(quote_argument(-1), '"-1"')

    @given(st.lists(st.text().filter(lambda t: not set(t) & {"\n", "\r", "\0"}),
                    max_size=6))
    def test_round_trip(self, args: list[str]) -> None:
        """Any argument list survives quoting and Asterisk's own argument parser."""
        line = format_command("EXEC", *args).decode("utf-8").rstrip("\n")
        self.assertEqual(asterisk_parse_args(line), ["EXEC", *args])

    @given(st.lists(st.one_of(st.text().filter(lambda t: not set(t) & {"\n", "\r", "\0"}),
                              st.integers()), min_size=1, max_size=6))
    def test_fast_path_same_bytes(self, args: list[str | int]) -> None:
        """Plain arguments (one join, no escaping) give the bytes per-argument quoting gives."""
        expected = ("EXEC " + " ".join(quote_argument(a) for a in args) + "\n").encode("utf-8")
        self.assertEqual(format_command("EXEC", *args), expected)

    @given(st.text())
    def test_never_injects(self, value: str) -> None:
        """Quoting either refuses the value or yields one line with exactly one argument."""
        try:
            line = format_command("SET VARIABLE", "X", value)
        except AGIUsageError:
            return
        self.assertEqual(line.count(b"\n"), 1)
        self.assertEqual(asterisk_parse_args(line.decode().rstrip("\n"))[3], value)


class ChannelTests(SynchronousTestCase):
    """Each channel method sends its command and reads its reply."""

    def test_get_variable_set(self) -> None:
        """C{200 result=1 (value)} gives the value."""
        channel, sender = channel_with("200 result=1 (hello (world))")
        self.assertEqual(self.successResultOf(run(channel.get_variable("X"))), "hello (world)")
        self.assertEqual(sender.sent, [b'GET VARIABLE "X"\n'])

    def test_get_variable_unset(self) -> None:
        """C{200 result=0} means the variable is not set: None."""
        channel, _ = channel_with("200 result=0")
        self.assertIsNone(self.successResultOf(run(channel.get_variable("X"))))

    def test_get_variable_empty(self) -> None:
        """A variable set to the empty string is C{""}, not None."""
        channel, _ = channel_with("200 result=1 ()")
        self.assertEqual(self.successResultOf(run(channel.get_variable("X"))), "")

    def test_get_full_variable(self) -> None:
        """GET FULL VARIABLE sends the expression (and channel) and returns the value."""
        channel, sender = channel_with("200 result=1 (138)", "200 result=0")
        self.assertEqual(self.successResultOf(run(channel.get_full_variable("${X}"))), "138")
        self.assertIsNone(self.successResultOf(run(channel.get_full_variable("${Y}", "PJSIP/a"))))
        self.assertEqual(sender.sent[1], b'GET FULL VARIABLE "${Y}" "PJSIP/a"\n')

    def test_set_variable(self) -> None:
        """SET VARIABLE quotes name and value."""
        channel, sender = channel_with("200 result=1")
        self.successResultOf(run(channel.set_variable("HOTLINE_OPEN_TICKETS", 3)))
        self.assertEqual(sender.sent, [b'SET VARIABLE "HOTLINE_OPEN_TICKETS" "3"\n'])

    def test_set_variables_in_one_mset(self) -> None:
        """Plain names and values (empty ones too) go in one EXEC MSet, in order."""
        channel, sender = channel_with("200 result=0")
        self.successResultOf(run(channel.set_variables(
            [("HOTLINE_CALL_ID", 42), ("HOTLINE_CITIZEN_ID", ""), ("__HOTLINE_X", "a-b.c")])))
        self.assertEqual(sender.sent, [
            b'EXEC "MSet" "HOTLINE_CALL_ID=42,HOTLINE_CITIZEN_ID=,__HOTLINE_X=a-b.c"\n'])

    def test_set_variables_one_by_one_when_mset_would_misread(self) -> None:
        """A comma, a quote, a space or a parenthesis in a value: one SET VARIABLE each, in
        order, each quoted as SET VARIABLE quotes; a single variable is a SET VARIABLE too."""
        for value in ("a,b", 'say "hi"', "a b", "f(x)", "${EVIL}", "张三"):
            channel, sender = channel_with("200 result=1", "200 result=1")
            self.successResultOf(run(channel.set_variables([("A", 1), ("B", value)])))
            self.assertEqual(sender.sent, [b'SET VARIABLE "A" "1"\n',
                                           format_command("SET VARIABLE", "B", value)], value)
        channel, sender = channel_with("200 result=1")
        self.successResultOf(run(channel.set_variables([("A", 1)])))
        self.assertEqual(sender.sent, [b'SET VARIABLE "A" "1"\n'])

    def test_exec(self) -> None:
        """EXEC joins the application's arguments with commas into one argument."""
        channel, sender = channel_with("200 result=0")
        self.assertEqual(self.successResultOf(run(channel.exec("Queue", "hotline", "t", 30))), 0)
        self.assertEqual(sender.sent, [b'EXEC "Queue" "hotline,t,30"\n'])

    def test_exec_no_such_application(self) -> None:
        """C{result=-2} from EXEC raises AGIResultError."""
        channel, _ = channel_with("200 result=-2")
        self.failureResultOf(run(channel.exec("Nope")), AGIResultError)

    def test_stream_file(self) -> None:
        """STREAM FILE returns the key pressed and the end position."""
        channel, sender = channel_with("200 result=50 endpos=8000", "200 result=0 endpos=16000")
        self.assertEqual(self.successResultOf(run(channel.stream_file("hello", "12"))),
                         DigitResult("2", 8000))
        self.assertEqual(self.successResultOf(run(channel.stream_file("hello", offset=10))),
                         DigitResult(None, 16000))
        self.assertEqual(sender.sent[1], b'STREAM FILE "hello" "" "10"\n')

    def test_get_data(self) -> None:
        """GET DATA returns the digits and whether input timed out."""
        channel, sender = channel_with("200 result=123 (timeout)", "200 result=")
        self.assertEqual(self.successResultOf(run(channel.get_data("menu", 3000, 4))),
                         GetDataResult("123", True))
        self.assertEqual(self.successResultOf(run(channel.get_data("menu"))),
                         GetDataResult("", False))
        self.assertEqual(sender.sent, [b'GET DATA "menu" "3000" "4"\n', b'GET DATA "menu"\n'])

    def test_say_digits_and_wait(self) -> None:
        """SAY DIGITS and WAIT FOR DIGIT return the key, or None."""
        channel, sender = channel_with("200 result=0", "200 result=35")
        self.assertIsNone(self.successResultOf(run(channel.say_digits("110"))))
        self.assertEqual(self.successResultOf(run(channel.wait_for_digit(5000))), "#")
        self.assertEqual(sender.sent, [b'SAY DIGITS "110" ""\n', b'WAIT FOR DIGIT "5000"\n'])

    def test_verbose_answer_hangup(self) -> None:
        """VERBOSE, ANSWER and HANGUP are sent as expected."""
        channel, sender = channel_with("200 result=1", "200 result=0", "200 result=1")
        self.successResultOf(run(channel.verbose("来电 ok", 3)))
        self.successResultOf(run(channel.answer()))
        self.successResultOf(run(channel.hangup()))
        self.assertEqual(sender.sent, ['VERBOSE "来电 ok" "3"\n'.encode(), b"ANSWER\n",
                                       b"HANGUP\n"])

    def test_database(self) -> None:
        """DATABASE GET returns the value or None; a failed PUT raises AGIResultError."""
        channel, _ = channel_with("200 result=1 (v)", "200 result=0", "200 result=1",
                                  "200 result=0")
        self.assertEqual(self.successResultOf(run(channel.database_get("f", "k"))), "v")
        self.assertIsNone(self.successResultOf(run(channel.database_get("f", "k"))))
        self.successResultOf(run(channel.database_put("f", "k", "v")))
        self.failureResultOf(run(channel.database_put("f", "k", "v")), AGIResultError)

    def test_request(self) -> None:
        """The channel exposes the parsed request."""
        channel, _ = channel_with()
        self.assertEqual(channel.request.uniqueid, "1.1")
