"""Tests for L{hotline.agi.server}: framing, replies, hangups, fail-open and the allow-list."""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from hotline.agi import server as agi_server
from hotline.agi.channel import AGIChannel
from hotline.agi.errors import (
    AGIDeadChannel,
    AGIError,
    AGIHangup,
    AGIInvalidCommand,
    AGIResultError,
    AGIUsageError,
    DialplanBreak,
)
from hotline.agi.routes import RouteTable
from hotline.agi.server import FastAGIFactory, FastAGIProtocol, listen
from hotline.agi.variables import HOTLINE_CALL_ID
from tests.agi.support import VARIABLE_BLOCK, Session, block_for

STATUS_OK = b'SET VARIABLE "HOTLINE_AGI_STATUS" "OK"\n'
STATUS_FAILED = b'SET VARIABLE "HOTLINE_AGI_STATUS" "FAILED"\n'
STATUS_TIMEOUT = b'SET VARIABLE "HOTLINE_AGI_STATUS" "TIMEOUT"\n'
STATUS_BREAK = b'SET VARIABLE "HOTLINE_AGI_STATUS" "BREAK"\n'
STATUS_NOT_FOUND = b'SET VARIABLE "HOTLINE_AGI_STATUS" "NOTFOUND"\n'


def recording_routes(seen: list[object]) -> RouteTable:
    """Routes with an C{inbound} script that records its channel and does three commands."""
    routes = RouteTable()

    @routes.register("inbound")
    async def inbound(channel: AGIChannel) -> None:
        seen.append(channel.request)
        value = await channel.get_variable("CALLERID(num)")
        seen.append(value)
        await channel.set_variable(HOTLINE_CALL_ID, "42")
        seen.append(await channel.exec("NoOp", "hello world"))

    return routes


REPLIES = b"200 result=1 (13800138000)\n200 result=1\n200 result=0\n"
EXPECTED_COMMANDS = [
    b'GET VARIABLE "CALLERID(num)"\n',
    b'SET VARIABLE "HOTLINE_CALL_ID" "42"\n',
    b'EXEC "NoOp" "hello world"\n',
    STATUS_OK,
]


class VariableBlockTests(SynchronousTestCase):
    """The variable block is framed the same whatever the packet boundaries."""

    def test_every_chunk_size(self) -> None:
        """Block and replies fed in pieces of 1 to 9 bytes give the same session each time."""
        for size in range(1, 10):
            seen: list[object] = []
            session = Session(routes=recording_routes(seen))
            session.feed(VARIABLE_BLOCK + REPLIES, size)
            self.assertEqual(session.written(), EXPECTED_COMMANDS, f"chunk size {size}")
            request = seen[0]
            self.assertEqual(request.script, "inbound")  # type: ignore[attr-defined]
            self.assertEqual(request.query, {"lang": "zh"})  # type: ignore[attr-defined]
            self.assertEqual(request.args, ("first", "second arg"))  # type: ignore[attr-defined]
            self.assertEqual(request.calleridname, "张三")  # type: ignore[attr-defined]
            self.assertEqual(seen[1:], ["13800138000", 0])
            self.assertTrue(session.transport.disconnecting)
            session.lose()
            self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_crlf_block(self) -> None:
        """A block with CRLF line ends (a hand-written client) is accepted in any chunk size."""
        for size in range(1, 10):
            seen: list[object] = []
            session = Session(routes=recording_routes(seen))
            session.feed(VARIABLE_BLOCK.replace(b"\n", b"\r\n") + REPLIES, size)
            self.assertEqual(session.written(), EXPECTED_COMMANDS)
            self.assertEqual(seen[0].uniqueid, "1718000000.1")  # type: ignore[attr-defined]
            self.assertEqual(seen[0].args, ("first", "second arg"))  # type: ignore[attr-defined]

    def test_gb18030_caller_name(self) -> None:
        """A caller name in GB18030 is decoded, and the other variables are untouched."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        block = VARIABLE_BLOCK.replace("张三".encode(), "张三".encode("gb18030"))
        session.feed(block)
        request = seen[0]
        self.assertEqual(request.calleridname, "张三")  # type: ignore[attr-defined]
        self.assertEqual(request.callerid, "13800138000")  # type: ignore[attr-defined]

    def test_utf8_split_across_packets(self) -> None:
        """A Chinese value cut in the middle of a character by the packet boundary survives."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        cut = VARIABLE_BLOCK.index("张".encode()) + 1
        session.feed(VARIABLE_BLOCK[:cut])
        session.feed(VARIABLE_BLOCK[cut:])
        self.assertEqual(seen[0].calleridname, "张三")  # type: ignore[attr-defined]

    def test_header_too_long(self) -> None:
        """A block that never ends is cut at MAX_HEADER_LENGTH by the named overflow hook."""
        session = Session()
        assert session.protocol is not None
        calls: list[bool] = []
        session.protocol.header_length_exceeded = lambda: calls.append(True)  # type: ignore
        session.feed(b"agi_x: " + b"y" * FastAGIProtocol.MAX_HEADER_LENGTH)
        self.assertEqual(calls, [True])

    def test_header_too_long_default_drops(self) -> None:
        """By default an overlong block is logged and the connection dropped."""
        session = Session()
        session.feed(b"agi_x: " + b"y" * (FastAGIProtocol.MAX_HEADER_LENGTH + 1))
        self.assertTrue(session.transport.disconnecting)
        self.assertIn("without ending the variable block", " ".join(session.messages()))
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_not_agi(self) -> None:
        """An HTTP probe (no agi_* variable) is closed without running any script."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        session.feed(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        self.assertTrue(session.transport.disconnecting)
        self.assertEqual(seen, [])
        self.assertEqual(session.transport.value(), b"")


class EarlyCloseTests(SynchronousTestCase):
    """A peer that goes away before the script starts ends the session quietly."""

    def test_close_right_after_connect(self) -> None:
        """A TCP health check (connect, close) leaves no timer, no write and no error."""
        session = Session()
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])
        self.assertEqual(session.transport.value(), b"")
        self.assertEqual([e for e in session.events if e["log_level"] >= LogLevel.warn], [])

    def test_close_mid_header(self) -> None:
        """Half a variable block then EOF: nothing runs, nothing is left scheduled."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        session.feed(VARIABLE_BLOCK[:100])
        session.lose()
        session.feed(VARIABLE_BLOCK[100:])
        self.assertEqual(seen, [])
        self.assertEqual(session.clock.getDelayedCalls(), [])
        self.assertEqual(session.transport.value(), b"")

    def test_header_never_completes(self) -> None:
        """A peer that sends half a block and stalls is closed at the header timeout."""
        session = Session(header_timeout=5)
        session.feed(VARIABLE_BLOCK[:100])
        session.clock.advance(4.9)
        self.assertFalse(session.transport.disconnecting)
        session.clock.advance(0.2)
        self.assertTrue(session.transport.disconnecting)
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_close_while_command_pending(self) -> None:
        """Asterisk closing during a command fails it with AGIHangup; the script ends quietly."""
        outcome: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                await channel.answer()
            except AGIHangup as error:
                outcome.append(error)
                raise

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        session.lose()
        self.assertIsInstance(outcome[0], AGIHangup)
        self.assertEqual(session.clock.getDelayedCalls(), [])
        self.assertEqual(session.written(), [b"ANSWER\n"])


class ReplyTests(SynchronousTestCase):
    """Error replies map onto the exceptions of L{hotline.agi.errors}."""

    def run_one(self, reply: bytes) -> tuple[Session, list[object]]:
        """Run a script sending one command, answered with C{reply}; return what it caught."""
        caught: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                caught.append(await channel.command("GET VARIABLE", "X"))
            except AGIError as error:
                caught.append(error)

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + reply)
        return session, caught

    def test_510(self) -> None:
        """C{510 Invalid or unknown command} raises AGIInvalidCommand."""
        _, caught = self.run_one(b"510 Invalid or unknown command\n")
        self.assertIsInstance(caught[0], AGIInvalidCommand)

    def test_511(self) -> None:
        """C{511 Command Not Permitted on a dead channel} raises AGIDeadChannel."""
        _, caught = self.run_one(b"511 Command Not Permitted on a dead channel\n")
        self.assertIsInstance(caught[0], AGIDeadChannel)

    @staticmethod
    def usage_then_get(caught: list[object]) -> RouteTable:
        """Routes whose script sends a bad command, records the error, then reads Y."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                await channel.command("GET VARIABLE")
            except AGIUsageError as error:
                caught.append(error)
            caught.append(await channel.get_variable("Y"))

        return routes

    def test_520_multiline(self) -> None:
        """The multi-line 520 reply raises one AGIUsageError carrying the usage text."""
        reply = (b"520-Invalid command syntax.  Proper usage follows:\n"
                 b" Usage: GET VARIABLE <variablename>\n"
                 b"        Returns 0 if <variablename> is not set.\n"
                 b"520 End of proper usage.\n")
        for size in range(1, 10):
            caught: list[object] = []
            session = Session(routes=self.usage_then_get(caught))
            session.feed(VARIABLE_BLOCK + reply + b"200 result=1 (y)\n", size)
            self.assertIsInstance(caught[0], AGIUsageError)
            self.assertIn("Usage: GET VARIABLE <variablename>",
                          caught[0].usage)  # type: ignore[attr-defined]
            self.assertEqual(caught[1], "y")

    def test_520_single_line(self) -> None:
        """A one-line 520 (usage not available) raises AGIUsageError too."""
        _, caught = self.run_one(b"520 Invalid command syntax.  Proper usage not available.\n")
        self.assertIsInstance(caught[0], AGIUsageError)

    def test_result_minus_one(self) -> None:
        """C{200 result=-1} raises AGIResultError."""
        _, caught = self.run_one(b"200 result=-1\n")
        self.assertIsInstance(caught[0], AGIResultError)

    def test_trying_is_skipped(self) -> None:
        """A provisional C{100 Trying...} line is not taken for the reply."""
        _, caught = self.run_one(b"100 result=0 Trying...\n200 result=1 (v)\n")
        self.assertEqual(caught[0].data, "v")  # type: ignore[attr-defined]

    def test_garbage_reply(self) -> None:
        """A line that is no reply at all fails the command with an AGIError, not a crash."""
        _, caught = self.run_one(b"\xff\xfe garbage\n")
        self.assertIsInstance(caught[0], AGIError)

    def test_reply_too_long(self) -> None:
        """A reply longer than MAX_REPLY_LENGTH fails the command and drops the connection."""
        session, caught = self.run_one(b"200 result=1 (" + b"x" * 70000)
        self.assertIsInstance(caught[0], AGIError)
        self.assertTrue(session.transport.disconnecting)

    def test_commands_one_at_a_time(self) -> None:
        """Commands issued together are written one by one, each after the previous reply."""
        results: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            first = Deferred.fromCoroutine(channel.get_variable("A"))
            second = Deferred.fromCoroutine(channel.get_variable("B"))
            results.append(await first)
            results.append(await second)

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [b'GET VARIABLE "A"\n'])
        session.feed(b"200 result=1 (a)\n")
        self.assertEqual(session.written()[1:], [b'GET VARIABLE "B"\n'])
        session.feed(b"200 result=0\n")
        self.assertEqual(results, ["a", None])


class HangupTests(SynchronousTestCase):
    """Asterisk's C{HANGUP} notice stops the script's commands."""

    def test_hangup_notice(self) -> None:
        """After HANGUP the pending and every later command raise AGIHangup; no status write."""
        caught: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                await channel.stream_file("welcome")
            except AGIHangup as error:
                caught.append(error)
            try:
                await channel.set_variable("X", "1")
            except AGIHangup as error:
                caught.append(error)

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + b"HANGUP\n200 result=0 endpos=1234\n")
        self.assertEqual(len(caught), 2)
        self.assertIsInstance(caught[0], AGIHangup)
        self.assertIsInstance(caught[1], AGIHangup)
        self.assertEqual(session.written(), [b'STREAM FILE "welcome" ""\n'])
        self.assertTrue(session.transport.disconnecting)
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_hangup_uncaught(self) -> None:
        """A script that lets AGIHangup escape is logged at info, not as a failure."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            await channel.answer()

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + b"HANGUP\n")
        self.assertEqual([e for e in session.events if "log_failure" in e], [])
        self.assertIn("caller gone", " ".join(session.messages()))


class FailOpenTests(SynchronousTestCase):
    """Whatever a script does wrong, the connection closes so the dialplan continues."""

    def test_script_raises(self) -> None:
        """An exception is logged with uniqueid, callerid and script, and the session closed."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            await channel.answer()
            raise RuntimeError("directory down")

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + b"200 result=0\n")
        self.assertEqual(session.written(), [b"ANSWER\n", STATUS_FAILED])
        self.assertTrue(session.transport.disconnecting)
        failures = [e for e in session.events if "log_failure" in e]
        self.assertEqual(len(failures), 1)
        self.assertIsInstance(failures[0]["log_failure"].value, RuntimeError)
        text = session.messages()[-1]
        for part in ("1718000000.1", "13800138000", "inbound"):
            self.assertIn(part, text)
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_script_raises_synchronously(self) -> None:
        """A script that is not a coroutine and raises at call time fails open the same way."""
        routes = RouteTable()

        def inbound(channel: AGIChannel) -> None:
            raise ValueError("wrong signature")

        routes.add("inbound", inbound)  # type: ignore[arg-type]
        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [STATUS_FAILED])
        self.assertEqual(len([e for e in session.events if "log_failure" in e]), 1)

    def test_dialplan_break(self) -> None:
        """DialplanBreak ends the session with status BREAK and an info line, no traceback."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            raise DialplanBreak("caller is blocked")

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [STATUS_BREAK])
        self.assertEqual([e for e in session.events if "log_failure" in e], [])
        self.assertIn("caller is blocked", " ".join(session.messages()))

    def test_timeout(self) -> None:
        """A script over its limit is cancelled, logged with context, and the session closed."""
        cancelled: list[BaseException] = []
        routes = RouteTable()
        never: Deferred[None] = Deferred()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                await never
            except BaseException as error:
                cancelled.append(error)
                raise

        session = Session(routes=routes, script_timeout=3.0)
        session.feed(VARIABLE_BLOCK)
        session.clock.advance(2.9)
        self.assertFalse(session.transport.disconnecting)
        session.clock.advance(0.2)
        self.assertTrue(session.transport.disconnecting)
        self.assertEqual(session.written(), [STATUS_TIMEOUT])
        self.assertEqual(len(cancelled), 1)
        errors = [e for e in session.events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        text = formatEvent(errors[0])
        for part in ("1718000000.1", "13800138000", "inbound", "3.0"):
            self.assertIn(part, text)
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_timeout_during_command(self) -> None:
        """A script stuck on a command is cancelled; the late reply is then ignored."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            await channel.get_data("menu", 5000, 4)

        session = Session(routes=routes, script_timeout=1.0)
        session.feed(VARIABLE_BLOCK)
        session.clock.advance(1.0)
        self.assertEqual(session.written(), [b'GET DATA "menu" "5000" "4"\n', STATUS_TIMEOUT])
        session.feed(b"200 result=12 (timeout)\n")
        session.lose()
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_route_timeout_replaces_the_servers(self) -> None:
        """A script registered with its own limit (a dialogue) runs past the server's limit
        and is cancelled at its own."""
        routes = RouteTable()
        never: Deferred[None] = Deferred()

        @routes.register("inbound", timeout=60.0)
        async def inbound(channel: AGIChannel) -> None:
            await never

        session = Session(routes=routes, script_timeout=3.0)
        session.feed(VARIABLE_BLOCK)
        session.clock.advance(59.0)
        self.assertFalse(session.transport.disconnecting)
        session.clock.advance(1.5)
        self.assertEqual(session.written(), [STATUS_TIMEOUT])
        self.assertIn("60.0", " ".join(session.messages()))
        session.lose()

    def test_timer_cancelled_on_success(self) -> None:
        """A script that finishes in time leaves no timer behind."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        session.feed(VARIABLE_BLOCK + REPLIES)
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_unknown_script(self) -> None:
        """A script name nobody registered is logged and ends with status NOTFOUND."""
        session = Session()
        session.feed(block_for("nosuch?x=1"))
        self.assertEqual(session.written(), [STATUS_NOT_FOUND])
        self.assertTrue(session.transport.disconnecting)
        self.assertIn("nosuch", " ".join(session.messages()))
        self.assertEqual(session.clock.getDelayedCalls(), [])


class AllowListTests(SynchronousTestCase):
    """Only peers in the allow-list get a protocol."""

    def test_refused(self) -> None:
        """A peer outside the allow-list gets no protocol (closed at once) and is logged."""
        session = Session(host="10.1.2.3", allow=("127.0.0.1", "192.168.0.0/16"))
        self.assertIsNone(session.protocol)
        self.assertIn("10.1.2.3", " ".join(session.messages()))

    def test_network_allowed(self) -> None:
        """A peer inside an allowed network is served."""
        session = Session(host="192.168.7.9", allow=("127.0.0.1", "192.168.0.0/16"))
        self.assertIsInstance(session.protocol, FastAGIProtocol)

    def test_ipv6_and_mapped(self) -> None:
        """IPv6 peers match IPv6 networks; IPv4-mapped addresses match IPv4 ones."""
        factory = FastAGIFactory(routes=RouteTable(), clock=MemoryReactorClock(),
                                 allow=("::1", "10.0.0.0/8"), log=Logger(observer=lambda e: None))
        self.assertIsNotNone(factory.buildProtocol(IPv6Address("TCP", "::1", 1)))
        self.assertIsNotNone(factory.buildProtocol(IPv6Address("TCP", "::ffff:10.0.0.1", 1)))
        self.assertIsNone(factory.buildProtocol(IPv6Address("TCP", "::2", 1)))

    def test_non_ip_refused(self) -> None:
        """A peer with no IP address (a UNIX socket) is refused."""
        factory = FastAGIFactory(routes=RouteTable(), clock=MemoryReactorClock(),
                                 log=Logger(observer=lambda e: None))
        self.assertIsNone(factory.buildProtocol(UNIXAddress(b"/tmp/x")))

    def test_bad_entry(self) -> None:
        """An allow-list entry that is not an address is refused at construction."""
        self.assertRaises(ValueError, FastAGIFactory, routes=RouteTable(),
                          clock=MemoryReactorClock(), allow=("pbx.example",))

    def test_listen_loopback_by_default(self) -> None:
        """listen() binds the given port on loopback unless told otherwise."""
        reactor = MemoryReactorClock()
        listen(reactor, routes=RouteTable(), port=14573)
        port, factory, _, interface = reactor.tcpServers[0]
        self.assertEqual((port, interface), (14573, "127.0.0.1"))
        self.assertIsInstance(factory, FastAGIFactory)

    def test_listen_bind_and_allow(self) -> None:
        """listen() passes the interface and the allow-list through."""
        reactor = MemoryReactorClock()
        listen(reactor, routes=RouteTable(), bind="0.0.0.0", port=4573, allow=["10.0.0.5"])
        _, factory, _, interface = reactor.tcpServers[0]
        self.assertEqual(interface, "0.0.0.0")
        self.assertEqual([str(n) for n in factory.allow], ["10.0.0.5/32"])
        self.assertEqual(agi_server.DEFAULT_PORT, 4573)


class FakeSocket:
    """Accepts at most C{room} bytes per send, or raises C{BlockingIOError} when C{room} is 0."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        """Record what the kernel would have taken."""
        if self.room == 0:
            raise BlockingIOError()
        taken = bytes(data[:self.room])
        self.sent.append(taken)
        return len(taken)


class IdleTCPTransport(tcp.Server):
    """A TCP transport built without a reactor: C{startWriting} only counts."""

    def __init__(self, sock: FakeSocket) -> None:  # no super().__init__: no real socket
        self.socket = sock  # type: ignore[assignment]
        self.connected = 1
        self.disconnecting = 0
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataBuffer = []
        self._tempDataLen = 0
        self.producer = None
        self._writeDisconnected = False
        self.write_wakeups = 0

    def startWriting(self) -> None:
        """Count the requests to be woken for writability."""
        self.write_wakeups += 1

    def getPeer(self) -> IPv4Address:  # type: ignore[override]
        """A loopback peer."""
        return IPv4Address("TCP", "127.0.0.1", 40000)


class WriteThroughTests(SynchronousTestCase):
    """On an idle TCP socket commands are sent at once; anything else goes through Twisted."""

    def connect(self, room: int) -> tuple[IdleTCPTransport, FakeSocket]:
        """A session on an L{IdleTCPTransport} whose script sends two commands."""
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            await channel.answer()
            await channel.answer()

        factory = FastAGIFactory(routes=routes, clock=Clock(), log=Logger(observer=lambda e: 0))
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert protocol is not None
        sock = FakeSocket(room)
        transport = IdleTCPTransport(sock)
        protocol.makeConnection(transport)
        protocol.dataReceived(VARIABLE_BLOCK)
        return transport, sock

    def test_direct(self) -> None:
        """With room in the socket the command goes out at once, no reactor wake-up."""
        transport, sock = self.connect(room=1000)
        self.assertEqual(sock.sent, [b"ANSWER\n"])
        self.assertEqual((transport.write_wakeups, transport._tempDataBuffer), (0, []))

    def test_partial(self) -> None:
        """A partial send leaves the rest to Twisted's buffer, in order."""
        transport, sock = self.connect(room=3)
        self.assertEqual(sock.sent, [b"ANS"])
        self.assertEqual(transport._tempDataBuffer, [b"WER\n"])
        self.assertEqual(transport.write_wakeups, 1)

    def test_would_block(self) -> None:
        """EAGAIN leaves the whole command to Twisted's buffer."""
        transport, sock = self.connect(room=0)
        self.assertEqual(sock.sent, [])
        self.assertEqual(transport._tempDataBuffer, [b"ANSWER\n"])


class ScriptDriverTests(SynchronousTestCase):
    """The server drives a script's coroutine itself: whatever it awaits behaves as under
    C{ensureDeferred}."""

    def test_foreign_deferred_value(self) -> None:
        """A Deferred the script awaits (say, database work) hands it its value later."""
        later: Deferred[str] = Deferred()
        seen: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            seen.append(await later)
            await channel.set_variable(HOTLINE_CALL_ID, "7")

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [])
        later.callback("row 7")
        self.assertEqual(seen, ["row 7"])
        session.feed(b"200 result=1\n")
        self.assertEqual(session.written(),
                         [b'SET VARIABLE "HOTLINE_CALL_ID" "7"\n', STATUS_OK])
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_foreign_deferred_failure_caught(self) -> None:
        """A failing Deferred raises inside the script, which may catch it and go on."""
        broken: Deferred[str] = Deferred()
        caught: list[BaseException] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            try:
                await broken
            except ValueError as error:
                caught.append(error)
            await channel.answer()

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        broken.errback(ValueError("db down"))
        self.assertEqual(str(caught[0]), "db down")
        session.feed(b"200 result=0\n")
        self.assertEqual(session.written(), [b"ANSWER\n", STATUS_OK])

    def test_nested_coroutines(self) -> None:
        """Helpers awaited by the script (coroutines calling coroutines) run inline."""
        routes = RouteTable()
        seen: list[object] = []

        async def lookup(channel: AGIChannel) -> str | None:
            return await channel.get_variable("CALLERID(num)")

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            seen.append(await lookup(channel))

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK + b"200 result=1 (13800138000)\n")
        self.assertEqual(seen, ["13800138000"])
        self.assertEqual(session.written()[-1], STATUS_OK)

    def test_awaiting_something_else_fails_open(self) -> None:
        """An awaitable that is not a Deferred (an asyncio future, say) fails the script."""

        class Foreign:
            def __await__(self):  # type: ignore[no-untyped-def]
                yield "not a Deferred"

        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            await Foreign()

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [STATUS_FAILED])
        failures = [e["log_failure"] for e in session.events if "log_failure" in e]
        self.assertTrue(failures[0].check(TypeError))
        self.assertIn("may only await Deferreds", failures[0].getErrorMessage())
        self.assertEqual(session.clock.getDelayedCalls(), [])

    def test_context_variables_stay_with_the_call(self) -> None:
        """A context variable a script sets is not seen outside its session."""
        import contextvars

        var: contextvars.ContextVar[str] = contextvars.ContextVar("call", default="none")
        seen: list[str] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            var.set(channel.request.uniqueid)
            await channel.answer()
            seen.append(var.get())

        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(var.get(), "none")
        session.feed(b"200 result=0\n")
        self.assertEqual(seen, ["1718000000.1"])
        self.assertEqual(var.get(), "none")

    def test_plain_function_returning_deferred(self) -> None:
        """A script that is a plain function returning a Deferred still runs to its end."""
        done: Deferred[None] = Deferred()
        routes = RouteTable()
        routes.add("inbound", lambda channel: done)  # type: ignore[arg-type,return-value]
        session = Session(routes=routes)
        session.feed(VARIABLE_BLOCK)
        self.assertEqual(session.written(), [])
        done.callback(None)
        self.assertEqual(session.written(), [STATUS_OK])


class ReplyFramingTests(SynchronousTestCase):
    """The one-line fast path and the shared replies give what the general path gives."""

    def test_crlf_reply_lines(self) -> None:
        """Replies ending CRLF, one per packet, settle their commands."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        session.feed(VARIABLE_BLOCK)
        for line in REPLIES.split(b"\n")[:-1]:
            session.feed(line + b"\r\n")
        self.assertEqual(seen[1:], ["13800138000", 0])
        self.assertEqual(session.written(), EXPECTED_COMMANDS)

    def test_crlf_block_then_replies_in_one_packet(self) -> None:
        """A CRLF block is cut at its blank line even when LF LF follows in the same packet."""
        seen: list[object] = []
        session = Session(routes=recording_routes(seen))
        block = VARIABLE_BLOCK.replace(b"\n", b"\r\n")
        session.feed(block + b"200 result=1 (13800138000)\n\n200 result=1\n200 result=0\n")
        self.assertEqual(seen[0].callerid, "13800138000")  # type: ignore[attr-defined]
        self.assertEqual(seen[1:], ["13800138000", 0])

    def test_shared_replies_are_equal_and_bounded(self) -> None:
        """Data-less replies are parsed once and shared; the table never grows past its bound."""
        replies: list[object] = []
        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None:
            replies.append(await channel.command("ANSWER"))

        for n in range(agi_server._COMMON_REPLIES_MAX + 20):
            session = Session(routes=routes)
            session.feed(VARIABLE_BLOCK + b"200 result=%d\n" % n)
        self.assertEqual([r.result for r in replies],  # type: ignore[attr-defined]
                         [str(n) for n in range(agi_server._COMMON_REPLIES_MAX + 20)])
        self.assertLessEqual(len(agi_server._COMMON_REPLIES), agi_server._COMMON_REPLIES_MAX)
        first = Session(routes=routes)
        first.feed(VARIABLE_BLOCK + b"200 result=1\n")
        second = Session(routes=routes)
        second.feed(VARIABLE_BLOCK + b"200 result=1\n")
        self.assertIs(replies[-1], replies[-2])
