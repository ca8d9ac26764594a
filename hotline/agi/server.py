# -*- test-case-name: tests.agi.test_server -*-
"""The FastAGI server: one connection per AGI() call, each served by its registered script."""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections import deque
from collections.abc import Coroutine, Iterable
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from twisted.internet import tcp
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from hotline.agi.channel import AGIChannel, format_command
from hotline.agi.errors import (
    AGIError,
    AGIHangup,
    AGIProtocolError,
    AGIUsageError,
    DialplanBreak,
)
from hotline.agi.variables import (
    AGI_STATUS_BREAK,
    AGI_STATUS_FAILED,
    AGI_STATUS_NOT_FOUND,
    AGI_STATUS_OK,
    AGI_STATUS_TIMEOUT,
    HOTLINE_AGI_STATUS,
)
from hotline.agi.wire import (
    AGIReply,
    AGIRequest,
    decode_text,
    parse_reply,
    parse_variable_block,
    request_from_variables,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IDelayedCall, IListeningPort, IReactorTime

    from hotline.agi.routes import RouteTable

__all__ = ["DEFAULT_PORT", "FastAGIFactory", "FastAGIProtocol", "listen", "parse_allow_list"]

#: The port Asterisk's C{agi://host/script} uses when none is given.
DEFAULT_PORT = 4573

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The status line written as the session ends, precomputed: it is sent on every call.
_STATUS_LINES: dict[str, bytes] = {
    status: format_command("SET VARIABLE", HOTLINE_AGI_STATUS, status)
    for status in (AGI_STATUS_OK, AGI_STATUS_FAILED, AGI_STATUS_TIMEOUT, AGI_STATUS_BREAK,
                   AGI_STATUS_NOT_FOUND)
}

#: Replies without data (C{200 result=0}, C{200 result=1}, ...) are most of them; an
#: L{AGIReply} is immutable, so each such line is parsed once and its reply shared. Bounded, so
#: a peer sending ever-new lines cannot grow it.
_COMMON_REPLIES: dict[bytes, AGIReply] = {}
_COMMON_REPLIES_MAX = 256


class FastAGIProtocol(Protocol):
    """One FastAGI session: read the variable block, run the script, relay its commands.

    Bytes are framed first and decoded per unit (the block, then each reply line), so a
    multi-byte character split across packets survives. Commands go out one at a time; each
    reply fires the command's Deferred. Whatever the script does, the session ends by closing
    the connection, and the dialplan carries on after C{AGI()} (fail open).

    @cvar MAX_HEADER_LENGTH: bytes of variable block beyond which the peer is broken or hostile;
        see L{header_length_exceeded}.
    @cvar MAX_REPLY_LENGTH: bytes of one reply (a C{520} usage text included) beyond which
        L{reply_length_exceeded} is called.
    """

    MAX_HEADER_LENGTH = 16 * 1024
    MAX_REPLY_LENGTH = 64 * 1024

    def __init__(self, *, routes: RouteTable, clock: IReactorTime, script_timeout: float,
                 header_timeout: float, log: Logger) -> None:
        """
        @param routes: the scripts by name.
        @param clock: where the single per-session timer is scheduled (header wait, then the
            script's time limit).
        @param script_timeout: seconds a script may run before it is cancelled.
        @param header_timeout: seconds a peer may take to send the whole variable block.
        @param log: where session events go, with the call's context.
        """
        self._routes = routes
        self._clock = clock
        self._script_timeout = script_timeout
        self._header_timeout = header_timeout
        self._log = log
        self._buffer = b""
        self.request: AGIRequest | None = None
        self._pending: deque[tuple[bytes, Deferred[AGIReply]]] = deque()
        self._usage: list[str] | None = None
        self._usage_size = 0
        self._timer: IDelayedCall | None = None
        self._script: Deferred[Any] | None = None
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._awaiting: Deferred[Any] | None = None
        self._vars: contextvars.Context | None = None
        self._hung_up = False
        self._closed = False
        self._ended = False
        self._socket: socket.socket | None = None

    # -- Twisted's interface ---------------------------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        if isinstance(transport, tcp.Connection) and not getattr(transport, "TLS", False):
            self._socket = transport.socket
        self._timer = self._clock.callLater(self._header_timeout, self._deadline_passed)

    def dataReceived(self, data: bytes) -> None:
        if self._closed or self.transport.disconnecting:  # type: ignore[union-attr]
            return
        if self.request is None:
            data = self._block_received(data)
            if not data:
                return
        elif not self._buffer:
            newline = data.find(b"\n")
            if newline == len(data) - 1:
                # The usual case: one whole reply line in one packet.
                self._line_received(data[:-2] if data[-2:-1] == b"\r" else data[:-1])
                return
        buffer = self._buffer + data if self._buffer else data
        while not self._closed:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            line = buffer[:newline]
            buffer = buffer[newline + 1:]
            if line[-1:] == b"\r":
                line = line[:-1]
            self._line_received(line)
        if self._closed:
            self._buffer = b""
            return
        self._buffer = buffer
        if len(buffer) > self.MAX_REPLY_LENGTH:
            self._buffer = b""
            self.reply_length_exceeded()

    def _block_received(self, data: bytes) -> bytes:
        """Collect the variable block; once whole, start the script. Returns the bytes after it."""
        # Resume the blank-line search where the last one stopped, so a peer dribbling bytes
        # costs linear, not quadratic, time.
        scanned = max(0, len(self._buffer) - 2)
        buffer = self._buffer + data if self._buffer else data
        end = buffer.find(b"\n\n", scanned)
        skip = 2
        if b"\r" in buffer:  # a CRLF block ends at LF CR LF, maybe before any LF LF
            crlf = buffer.find(b"\n\r\n", scanned, None if end < 0 else end + 3)
            if crlf >= 0:
                end, skip = crlf, 3
        if end < 0:
            self._buffer = buffer
            if len(buffer) > self.MAX_HEADER_LENGTH:
                self._buffer = b""
                self.header_length_exceeded()
            return b""
        self._buffer = b""
        try:
            variables = parse_variable_block(buffer[:end])
        except AGIProtocolError as error:
            self._log.info("FastAGI peer {peer} sent no variable block ({error}); closing",
                           peer=self._peer(), error=error)
            self._close()
            return b""
        self.request = request_from_variables(variables)
        self._start_script(self.request)
        return buffer[end + skip:]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._closed = True
        self._buffer = b""
        if self.request is None:
            # A health check, a port scan, or Asterisk giving up: nothing ran, nothing to say.
            self._cancel_timer()
            self._log.debug("FastAGI peer {peer} closed before the variable block",
                            peer=self._peer())
        if self._pending:
            self._fail_pending(AGIHangup("the FastAGI connection closed"))

    # -- overflow hooks --------------------------------------------------------------------

    def header_length_exceeded(self) -> None:
        """The variable block grew past L{MAX_HEADER_LENGTH}: log and drop the connection."""
        self._log.warn("FastAGI peer {peer} sent over {limit} bytes without ending the "
                       "variable block; dropping it", peer=self._peer(),
                       limit=self.MAX_HEADER_LENGTH)
        self._close()

    def reply_length_exceeded(self) -> None:
        """A reply grew past L{MAX_REPLY_LENGTH}: log with context and drop the connection."""
        self._log.warn("FastAGI reply over {limit} bytes on {uniqueid} ({script}); dropping",
                       limit=self.MAX_REPLY_LENGTH, **self._context())
        self._fail_pending(AGIProtocolError("reply too long"))
        self._close()

    # -- writing ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        """Write C{data}, straight to the socket when nothing is queued before it.

        Twisted's C{transport.write} only buffers: the bytes go out on the next reactor turn,
        after an C{epoll_ctl} to watch for writability and another to stop. A FastAGI session is
        a ping-pong of short lines to a socket whose send buffer is empty, so sending at once
        saves a reactor turn and two system calls per command (about a third of the server's
        CPU per session). Anything unusual (data already queued, a partial send, an error, TLS,
        a test transport) goes through C{transport.write}, which handles it as always.
        """
        transport: Any = self.transport
        sock = self._socket
        if (sock is not None and not transport._tempDataLen and transport.connected
                and not transport.disconnecting
                and len(transport.dataBuffer) == transport.offset):
            try:
                sent = sock.send(data)
            except OSError:
                sent = 0  # EAGAIN, or an error doWrite will find and report the usual way
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)

    # -- commands --------------------------------------------------------------------------

    def send_command(self, line: bytes) -> Deferred[AGIReply]:
        """Queue one command line; it is written once every earlier one has its reply.

        @return: fires with the L{AGIReply}, or fails with the reply's L{AGIError};
            L{AGIHangup} at once when the channel hung up or the connection is gone.
        """
        if self._hung_up:
            return fail(AGIHangup("the channel hung up"))
        if self._closed or self._ended:
            return fail(AGIHangup("the FastAGI session has ended"))
        d: Deferred[AGIReply] = Deferred()
        self._pending.append((line, d))
        if len(self._pending) == 1:
            self._write(line)
        return d

    def _line_received(self, raw: bytes) -> None:
        """Route one reply line: collect a C{520-} usage text, note C{HANGUP}, or settle."""
        if self._usage is None:
            reply = _COMMON_REPLIES.get(raw)
            if reply is not None:
                self._settle(reply)
                return
        line = decode_text(raw)
        if self._usage is not None:
            if line.startswith("520 "):
                usage = "\n".join(self._usage)
                self._usage = None
                self._settle(Failure(AGIUsageError("Invalid command syntax", usage=usage,
                                                   details={"line": line})))
                return
            self._usage.append(line)
            self._usage_size += len(raw) + 1
            if self._usage_size > self.MAX_REPLY_LENGTH:
                self._usage = None
                self.reply_length_exceeded()
            return
        if line.startswith("200 "):
            try:
                outcome: AGIReply | Failure = parse_reply(line)
            except AGIError as error:
                outcome = Failure(error)
            else:
                if outcome.data is None and len(_COMMON_REPLIES) < _COMMON_REPLIES_MAX:
                    _COMMON_REPLIES[raw] = outcome
            self._settle(outcome)
        elif line == "HANGUP":
            self._hangup_received()
        elif line.startswith("520-"):
            self._usage = []
            self._usage_size = 0
        elif not line or line.startswith("100 "):
            return  # blank keepalive, or "100 result=0 Trying...": the real reply follows
        else:
            try:
                outcome = parse_reply(line)
            except AGIError as error:
                outcome = Failure(error)
            self._settle(outcome)

    def _settle(self, outcome: AGIReply | Failure) -> None:
        """Fire the oldest pending command with its reply, then send the next one."""
        if not self._pending:
            self._log.debug("FastAGI reply with no command pending on {uniqueid}: {line}",
                            line=outcome, **self._context())
            if isinstance(outcome, Failure):
                outcome.cleanFailure()
            return
        _, d = self._pending.popleft()
        if self._pending and not self._closed:
            self._write(self._pending[0][0])
        if d.called:
            return  # cancelled by the time limit
        if isinstance(outcome, Failure):
            d.errback(outcome)
        else:
            d.callback(outcome)

    def _hangup_received(self) -> None:
        """Asterisk's C{HANGUP} notice: from now on every command fails with L{AGIHangup}."""
        self._hung_up = True
        self._log.debug("FastAGI HANGUP on {uniqueid} ({script})", **self._context())
        self._fail_pending(AGIHangup("the channel hung up"))

    def _fail_pending(self, error: AGIError) -> None:
        pending, self._pending = self._pending, deque()
        for _, d in pending:
            if not d.called:
                d.errback(Failure(error))

    # -- the script's life -----------------------------------------------------------------

    def _start_script(self, request: AGIRequest) -> None:
        route = self._routes.lookup(request.script)
        if route is None:
            self._cancel_timer()
            self._log.warn("No AGI script {script!r} (uniqueid={uniqueid} "
                           "callerid={callerid}); the dialplan continues", **self._context())
            self._end(AGI_STATUS_NOT_FOUND)
            return
        # One timer per session: the header deadline becomes the script's. Moving it later is
        # O(1); moving a reactor timer sooner is a linear search of its heap, so then a fresh
        # timer is cheaper.
        if route.timeout is not None:
            self._script_timeout = route.timeout  # this session's limit (a dialogue's minutes)
        timer = self._timer
        deadline = self._clock.seconds() + self._script_timeout
        if timer is not None and timer.active() and timer.getTime() <= deadline:
            timer.reset(self._script_timeout)
        else:
            self._cancel_timer()
            self._timer = self._clock.callLater(self._script_timeout, self._deadline_passed)
        try:
            running = route.script(AGIChannel(self, request))
        except BaseException:
            self._script_ended(Failure())
            return
        if type(running) is CoroutineType:
            self._coro = running
            self._vars = contextvars.copy_context()
            self._step()
            return
        try:
            script = ensureDeferred(running)
        except BaseException:
            script = fail()
        self._script = script
        script.addBoth(self._script_ended)

    # -- driving the script's coroutine ------------------------------------------------------
    #
    # What ensureDeferred does, without its per-await bookkeeping: the coroutine yields the
    # Deferred it awaits (a command's, or any other); when that fires, the coroutine is resumed
    # from inside the callback, while the Deferred still holds its result (which is where
    # Deferred.__await__ reads it from); a failure is thrown in, as inlineCallbacks does. Each
    # step runs in the session's own copy of the context, so context variables a script sets
    # stay with its call.

    def _step(self, failure: Failure | None = None) -> None:
        coro = self._coro
        if coro is None:
            return
        try:
            if failure is None:
                awaited = self._vars.run(coro.send, None)  # type: ignore[union-attr]
            else:
                awaited = self._vars.run(failure.throwExceptionIntoGenerator,  # type: ignore
                                         coro)
        except StopIteration:
            self._coro = self._awaiting = None
            self._script_ended(None)
            return
        except BaseException:
            self._coro = self._awaiting = None
            self._script_ended(Failure())
            return
        if isinstance(awaited, Deferred):
            self._awaiting = awaited
            awaited.addBoth(self._resume)
        else:
            self._awaiting = None
            self._coro = None
            coro.close()
            self._script_ended(Failure(TypeError(
                f"an AGI script may only await Deferreds and coroutines, not {awaited!r}")))

    def _resume(self, result: object) -> None:
        """The awaited Deferred fired: carry on with the script (the result is read by it)."""
        self._awaiting = None
        self._step(result if isinstance(result, Failure) else None)
        return None

    def _deadline_passed(self) -> None:
        """The one timer went off: the block never came, or the script overran its limit."""
        self._timer = None
        if self.request is None:
            self._log.info("FastAGI peer {peer} sent no variable block in {timeout}s; closing",
                           peer=self._peer(), timeout=self._header_timeout)
            self._close()
            return
        self._log.error("AGI script {script!r} overran its {timeout}s limit (uniqueid={uniqueid}"
                        " callerid={callerid}); cancelled, the dialplan continues",
                        timeout=self._script_timeout, **self._context())
        self._end(AGI_STATUS_TIMEOUT)
        script, self._script = self._script, None
        if script is not None:
            script.cancel()
        awaiting = self._awaiting
        if awaiting is not None:
            awaiting.cancel()  # raises CancelledError in the script, as ensureDeferred's would

    def _script_ended(self, result: object) -> None:
        """Log how the script ended, tell the dialplan, and close (unless timed out already)."""
        self._cancel_timer()
        if self._ended:
            return None  # timed out and reported already; the cancellation ends up here
        self._script = None
        if not isinstance(result, Failure):
            self._end(AGI_STATUS_OK)
        elif result.check(DialplanBreak):
            self._log.info("AGI script {script!r} stopped on {uniqueid} (callerid={callerid}): "
                           "{reason}", reason=result.value, **self._context())
            self._end(AGI_STATUS_BREAK)
        elif result.check(AGIHangup):
            self._log.info("AGI script {script!r}: caller gone on {uniqueid} "
                           "(callerid={callerid})", **self._context())
            self._end(None)
        else:
            self._log.failure("AGI script {script!r} failed on {uniqueid} (callerid={callerid});"
                              " the dialplan continues", result, **self._context())
            self._end(AGI_STATUS_FAILED)
        return None

    def _end(self, status: str | None) -> None:
        """Tell the dialplan how it went (if the channel is still there) and close."""
        if self._ended:
            return
        self._ended = True
        if status is not None and not self._hung_up and not self._closed:
            self._write(_STATUS_LINES[status])
        self._close()

    def _close(self) -> None:
        if self.request is None:
            self._cancel_timer()
        if not self._closed:
            self._closed = True
            self.transport.loseConnection()  # type: ignore[union-attr]

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    # -- context for logs ------------------------------------------------------------------

    def _peer(self) -> str:
        try:
            address = self.transport.getPeer()  # type: ignore[union-attr]
        except Exception:
            return "?"
        host = getattr(address, "host", None)
        return f"{host}:{getattr(address, 'port', '')}" if host else str(address)

    def _context(self) -> dict[str, str]:
        request = self.request
        if request is None:
            return {"script": "", "uniqueid": "", "callerid": "", "channel": ""}
        variables = request.variables
        return {
            "script": request.script,
            "uniqueid": variables.get("agi_uniqueid", ""),
            "callerid": variables.get("agi_callerid", ""),
            "channel": variables.get("agi_channel", ""),
        }


def parse_allow_list(allow: Iterable[str | _Network]) -> tuple[_Network, ...]:
    """Turn C{"10.0.0.5"}, C{"10.0.0.0/24"}, C{"::1"} into networks.

    @raise ValueError: an entry is not an address or network.
    """
    networks: list[_Network] = []
    for entry in allow:
        if isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(entry)
        else:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
    return tuple(networks)


class FastAGIFactory(Factory):
    """Builds a L{FastAGIProtocol} per connection from an allowed peer; refuses the rest.

    @ivar routes: the scripts by name.
    @ivar allow: the peer networks allowed to connect.
    """

    protocol = FastAGIProtocol  # type: ignore[assignment]

    def __init__(self, *, routes: RouteTable, clock: IReactorTime,
                 allow: Iterable[str | _Network] = ("127.0.0.1", "::1"),
                 script_timeout: float = 3.0, header_timeout: float = 3.0,
                 log: Logger | None = None) -> None:
        """
        @param routes: the scripts by name.
        @param clock: the reactor (or a L{task.Clock} in tests) for the per-session timer.
        @param allow: addresses or networks allowed to connect; anyone else is closed at once.
        @param script_timeout: seconds a script may run (C{agi.script_timeout_s}).
        @param header_timeout: seconds a peer may take to send its variable block.
        @param log: the logger sessions report to (a fresh L{Logger} by default).
        @raise ValueError: an C{allow} entry is not an address or network.
        """
        self.routes = routes
        self.allow = parse_allow_list(allow)
        self._allow_all = any(n.prefixlen == 0 for n in self.allow)
        self._allowed_hosts: dict[str, bool] = {}
        self._clock = clock
        self._script_timeout = script_timeout
        self._header_timeout = header_timeout
        self._log = log if log is not None else Logger()

    def is_allowed(self, host: str) -> bool:
        """Whether a peer address falls in the allow-list (IPv4-mapped IPv6 counts as IPv4)."""
        known = self._allowed_hosts.get(host)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        allowed = self._allow_all or any(address in network for network in self.allow)
        if len(self._allowed_hosts) < 1024:
            self._allowed_hosts[host] = allowed
        return allowed

    def buildProtocol(self, addr: IAddress) -> FastAGIProtocol | None:  # type: ignore[override]
        host = addr.host if isinstance(addr, IPv4Address | IPv6Address) else None
        if host is None or not self.is_allowed(host):
            self._log.warn("Refused FastAGI connection from {peer}: not in the allow-list",
                           peer=f"{host}:{getattr(addr, 'port', '')}" if host else str(addr))
            return None
        protocol = FastAGIProtocol(routes=self.routes, clock=self._clock,
                                   script_timeout=self._script_timeout,
                                   header_timeout=self._header_timeout, log=self._log)
        protocol.factory = self
        return protocol


def listen(reactor: Any, *, routes: RouteTable, bind: str = "127.0.0.1",
           port: int = DEFAULT_PORT, allow: Iterable[str | _Network] = ("127.0.0.1", "::1"),
           script_timeout: float = 3.0, header_timeout: float = 3.0,
           log: Logger | None = None, backlog: int = 128) -> IListeningPort:
    """Serve FastAGI on C{bind}:C{port} (loopback by default) for peers in C{allow}.

    @param reactor: provides C{IReactorTCP} and C{IReactorTime}.
    @return: the listening port (C{stopListening()} to stop).
    @raise ValueError: an C{allow} entry is not an address or network.
    """
    factory = FastAGIFactory(routes=routes, clock=reactor, allow=allow,
                             script_timeout=script_timeout, header_timeout=header_timeout,
                             log=log)
    return reactor.listenTCP(port, factory, backlog=backlog, interface=bind)
