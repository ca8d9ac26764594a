# -*- test-case-name: tests.ami.test_protocol -*-
"""The AMI wire: frames bytes on the blank line, decodes each message and routes it by ActionID."""

from __future__ import annotations

import re
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from hotline.ami.actions import Action, AMIConnectionLost
from hotline.ami.message import Message

__all__ = [
    "AMIParseError",
    "AMIProtocol",
    "MalformedMessage",
    "MessageTooLong",
    "decode_message",
    "frame_messages",
]

_BANNER = b"Asterisk Call Manager/"


class AMIParseError(Exception):
    """Input that cannot be a valid AMI message."""


class MalformedMessage(AMIParseError):
    """A frame whose first line is not a C{Name: value} header (a broken or foreign peer)."""


class MessageTooLong(AMIParseError):
    """A message grew past L{AMIProtocol.MAX_MESSAGE} before its blank line."""


#: Where a message ends: a blank line, with CRLF or (tolerated) bare LF endings.
_END = re.compile(rb"\r?\n\r?\n")


def _may_end(chunk: bytes) -> bool:
    """Whether ``chunk`` may hold the blank line ending a message (CRLF CRLF, LF LF, LF CRLF).

    LF CRLF first: Asterisk's CRLF CRLF holds it, usually a few hundred bytes in, where a
    search for the LF LF it never sends would scan the whole chunk.
    """
    return b"\n\r\n" in chunk or b"\n\n" in chunk


def decode_message(data: bytes) -> str:
    """
    Decode one message: UTF-8, else GB18030, else Latin-1, so no caller name is ever lost.

    >>> decode_message("张三".encode("gb18030"))
    '张三'
    >>> decode_message(b"Jos\\xe9\\r\\n")
    'José\\r\\n'
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _event_name(text: str) -> str:
    """The name of an event whose text starts C{Event: }: the rest of its first line."""
    end = text.find("\r\n")
    return text[7:] if end < 0 else text[7:end]


def frame_messages(
    buffer: bytes,
    message_type: Callable[[str, str | None, bytes], Message],
    max_length: int,
) -> tuple[list[Message | bytes], bytes] | None:
    """
    Cut C{buffer} on CRLF CRLF: its complete frames as messages, in order, and the rest.

    A frame that is UTF-8, no longer than C{max_length} and starts C{Event: } or
    C{Response: } becomes C{message_type(text, event name or None, frame)}; any other frame
    is passed through as its bytes, in its place, for the protocol's slow path; an empty one
    is dropped. None when a line ends in a bare LF (never from Asterisk): the caller frames
    such a buffer itself (the compiled pass may have built messages before it met that LF, and
    drops them: C{message_type} is a plain constructor).

    This is the reference for, and the fallback of, the compiled L{_speedups.frame_messages}.

    >>> frame_messages(b"Event: Hangup\\r\\nUniqueid: 1.1\\r\\n\\r\\nJunk\\r\\n\\r\\nEve", Message, 99)
    ([<Message 'Hangup' {'Event': 'Hangup', 'Uniqueid': '1.1'}>, b'Junk'], b'Eve')
    >>> frame_messages(b"Event: Hangup\\n\\n", Message, 99) is None
    True
    """
    if buffer.count(b"\n") != buffer.count(b"\r\n"):
        return None
    frames = buffer.split(b"\r\n\r\n")
    rest = frames.pop()
    items: list[Message | bytes] = []
    for frame in frames:
        if not frame:
            continue
        if len(frame) <= max_length and frame.startswith((b"Event: ", b"Response: ")):
            try:
                text = frame.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                if frame.startswith(b"Event: "):
                    items.append(message_type(text, _event_name(text), frame))
                else:
                    items.append(message_type(text, None, frame))
                continue
        items.append(frame)
    return items, rest


try:
    from hotline.ami._speedups import frame_messages as _frame_messages
except ImportError:  # not built (a source tree run in place): the same answers, slower
    _frame_messages = frame_messages


class AMIProtocol(Protocol):
    """
    Turns the AMI byte stream into L{Message}s and hands each to L{messageReceived}.

    Replies are routed to the pending L{Action} with their ActionID; everything else that is an
    event goes to L{eventReceived}. The protocol knows actions, not business.

    @ivar banner: the greeting line's version (C{"Asterisk Call Manager/9.0.0"}), once seen.
    """

    MAX_MESSAGE = 4 * 1024 * 1024  # bytes; a longer message is skipped to its end and logged;
                                   # the link stays up (Asterisk does send large VarSet values,
                                   # Command output, long variable lists)

    _log = Logger(namespace="hotline.ami.protocol")

    def __init__(
        self,
        *,
        clock: IReactorTime | None = None,
        action_timeout: float | None = None,
        on_event: Callable[[Message], object] | None = None,
        max_message: int | None = None,
    ) -> None:
        """
        @param clock: schedules action timeouts (the reactor in production, a Clock in tests).
        @param action_timeout: default seconds an action may wait for its reply; None: forever.
        @param on_event: called with every event that is not part of an action's reply.
        @param max_message: bytes a message may have (default L{MAX_MESSAGE}); a longer one is
            skipped to its end.
        """
        if max_message is not None:
            self.MAX_MESSAGE = max_message
        self.banner: str | None = None
        self.action_timeout = action_timeout
        self._clock = clock
        self._on_event = on_event
        self._pending: dict[str, Action] = {}
        self._buffer = b""
        # An unfinished message too long to rescan on every read: its pieces, joined once its
        # end may have come.
        self._parts: list[bytes] = []
        self._parts_len = 0
        self._parts_tail = b""
        # Skipping an oversized message to its end: bytes dropped so far, and the last three
        # bytes seen (its blank line may be cut by a read boundary).
        self._skipping = False
        self._skipped = 0
        self._skip_tail = b""
        self._greeting = True
        self._reading = False
        self._later: list[bytes] = []
        self._lost = False
        self._lost_waiters: list[Deferred[None]] = []
        # Events outside an action's reply skip messageReceived unless a subclass overrides it.
        self._route_inline = type(self).messageReceived is AMIProtocol.messageReceived
        if on_event is not None and type(self).eventReceived is AMIProtocol.eventReceived:
            self.eventReceived = on_event  # type: ignore[method-assign]  # one call less

    # -- receiving --------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """Frame C{data} into messages; never raises, whatever the bytes."""
        if self._reading:
            # A handler fed us more input while we were delivering: take it after this round.
            self._later.append(data)
            return
        self._reading = True
        try:
            while True:
                try:
                    self._consume(data)
                except Exception:
                    self._log.failure("AMI input could not be handled; dropping the link")
                    self._buffer = b""
                    self._parts.clear()
                    self._later.clear()
                    self._drop()
                    return
                if not self._later:
                    return
                data = b"".join(self._later)
                self._later.clear()
        finally:
            self._reading = False

    def _consume(self, data: bytes) -> None:
        if self._skipping:
            data = self._skip(data)
            if not data:
                return
        if self._parts:
            # Most reads of a long message do not end it: keep them without rescanning.
            window = self._parts_tail + data
            if not _may_end(window):
                self._parts.append(data)
                self._parts_len += len(data)
                self._parts_tail = window[-3:]
                if self._parts_len > self.MAX_MESSAGE:
                    self._too_long(b"".join(self._parts))
                return
            data = b"".join(self._parts) + data
            self._parts.clear()
            self._parts_len = 0
        buf = self._buffer + data if self._buffer else data
        if self._greeting:
            newline = buf.find(b"\n")
            if newline < 0:
                self._keep(buf)
                return
            self._greeting = False
            if buf.startswith(_BANNER):
                self.banner = buf[:newline].rstrip(b"\r").decode("latin-1")
                buf = buf[newline + 1 :]
                self.bannerReceived(self.banner)
        elif b"\n" not in data:
            self._keep(buf)
            return
        # One pass over the whole chunk (see frame_messages): most frames become messages,
        # the others come back as bytes, in their place, for the slow path. A line ending in
        # a bare LF (never from Asterisk, but tolerated) sends the chunk down the slow path,
        # which frames on LF LF as well.
        framed = _frame_messages(buf, Message, self.MAX_MESSAGE)
        bare = framed is None
        if framed is None:
            frames = buf.replace(b"\r\n", b"\n").split(b"\n\n")
            rest = frames.pop()
            items: list[Message | bytes] = [*frames]
        else:
            items, rest = framed
        self._buffer = b""
        # A handler may drop the link: losing it marks this transport as disconnecting, and
        # its loss (connectionLost) sets _lost, so one transport is watched for the chunk.
        transport = self.transport
        for item in items:
            if self._lost or transport is None or transport.disconnecting:
                return
            if isinstance(item, bytes):
                self._frame_slowly(item, bare)
            # What messageReceived does with an event, inlined for the stream of events
            # (unless overridden).
            elif item.event is not None and self._route_inline and not self._pending:
                self.eventReceived(item)
            else:
                self.messageReceived(item)
        if rest:
            self._keep(rest)

    def _frame_slowly(self, frame: bytes, bare: bool) -> None:
        """A frame L{frame_messages} left as bytes: too long, not UTF-8, not an event nor a
        response, or from a chunk with bare LF line endings."""
        if not frame:
            return
        if len(frame) > self.MAX_MESSAGE:
            self.messageLengthExceeded(frame)
            self.messageSkipped(len(frame) + 4)
            return
        kept: bytes | None = frame
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            text = decode_message(frame)
            kept = None  # the message keeps only UTF-8 bytes (see Message.get)
        if bare:
            text = text.replace("\n", "\r\n")
            kept = None  # its lines end LF, the text's CRLF
        if text.startswith("Event: "):
            message = Message(text, _event_name(text), kept)
            if self._route_inline and not self._pending:
                self.eventReceived(message)
                return
        elif text.startswith("Response: "):
            message = Message(text, None, kept)
        else:
            self._odd_frame(text)
            return
        self.messageReceived(message)

    def _odd_frame(self, frame: str) -> None:
        frame = frame.strip("\r\n")
        if not frame:
            return
        first = frame.split("\r\n", 1)[0]
        name, colon, _ = first.partition(":")
        if not colon or not name.strip():
            self.messageParseFailed(
                frame, MalformedMessage(f"first line is not a header: {first[:80]!r}")
            )
            return
        self.messageReceived(Message(frame))

    def _keep(self, buf: bytes) -> None:
        self._buffer = b""
        if len(buf) > self.MAX_MESSAGE:
            self._too_long(buf)
        elif self._greeting:
            self._buffer = buf
        else:
            self._parts = [buf]
            self._parts_len = len(buf)
            self._parts_tail = buf[-3:]

    def _too_long(self, start: bytes) -> None:
        """The unfinished message passed MAX_MESSAGE: report it, drop it up to its end."""
        self._parts.clear()
        self._parts_len = 0
        self._skipping = True
        self._skipped = len(start)
        self._skip_tail = start[-3:]
        self.messageLengthExceeded(start)

    def _skip(self, data: bytes) -> bytes:
        """Drop ``data`` up to the blank line ending the skipped message; return what follows."""
        window = self._skip_tail + data
        end = _END.search(window)
        if end is None:
            self._skipped += len(data)
            self._skip_tail = window[-3:]
            return b""
        self._skipped += end.end() - len(self._skip_tail)
        self._skipping = False
        self._skip_tail = b""
        self.messageSkipped(self._skipped)
        return window[end.end():]

    def messageReceived(self, message: Message) -> None:
        """Route one message: to its pending action by ActionID, else as an event."""
        if self._pending:
            action_id = message.action_id
            if action_id is not None:
                action = self._pending.get(action_id)
                if action is not None:
                    action.add_message(message)
                    return
        if message.event is not None:
            self.eventReceived(message)
        else:
            self.unmatchedResponse(message)

    def eventReceived(self, message: Message) -> None:
        """Handle an event outside any action's reply; by default pass it to C{on_event}."""
        if self._on_event is not None:
            self._on_event(message)

    def bannerReceived(self, version: str) -> None:
        """Asterisk greeted us with C{version}; override to check it."""
        self._log.debug("AMI banner {banner}", banner=version)

    def unmatchedResponse(self, message: Message) -> None:
        """A response no pending action claims (a late reply after a timeout or cancel)."""
        self._log.info(
            "AMI response for no pending action {action_id}: {response}",
            action_id=message.action_id,
            response=message.name,
        )

    def messageParseFailed(self, frame: str, error: AMIParseError) -> None:
        """A frame was not AMI; by default log it and go on with the next one."""
        self._log.warn("AMI frame ignored: {error}", error=error, frame=frame[:200])

    def messageLengthExceeded(self, data: bytes) -> None:
        """A message passed C{MAX_MESSAGE} (C{data} is what came of it so far); it is skipped
        to its end and the link stays up. By default log it, naming the message."""
        first = data.split(b"\n", 1)[0].rstrip(b"\r")[:80].decode("latin-1")
        self._log.warn(
            "AMI message over {limit} bytes ({first}); skipping it to its end, the link stays up",
            limit=self.MAX_MESSAGE,
            first=first,
            error=MessageTooLong(len(data)),
        )

    def messageSkipped(self, size: int) -> None:
        """An oversized message ended after C{size} bytes, all dropped; reading goes on."""
        self._log.info("AMI oversized message skipped: {size} bytes", size=size)

    # -- sending ----------------------------------------------------------------------------

    def send_action(self, action: Action, timeout: float | None = None) -> Deferred:
        """
        Write C{action}, file it under its ActionID and return its Deferred.

        @param timeout: seconds to wait for the whole reply; None: the protocol's default.
        @raise ValueError: another pending action has the same ActionID.
        """
        transport = self.transport
        if self._lost or transport is None or transport.disconnecting:
            action.fail(AMIConnectionLost(f"AMI link is down; {action.name} not sent"))
            return action.deferred
        if action.action_id in self._pending:
            raise ValueError(f"ActionID {action.action_id!r} is already pending")
        self._pending[action.action_id] = action
        action.on_finish(self._forget)
        if timeout is None:
            timeout = self.action_timeout
        if timeout is not None:
            action.start_timer(self._get_clock(), timeout)
        transport.write(action.serialize())
        return action.deferred

    @property
    def pending(self) -> dict[str, Action]:
        """Actions waiting for their reply, by ActionID (a copy)."""
        return dict(self._pending)

    def _forget(self, action: Action) -> None:
        if self._pending.get(action.action_id) is action:
            del self._pending[action.action_id]

    def _get_clock(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor  # type: ignore[assignment]
        return self._clock  # type: ignore[return-value]

    # -- the link ---------------------------------------------------------------------------

    def _drop(self) -> None:
        self._lost = True
        if self.transport is not None:
            self.transport.loseConnection()

    def when_lost(self) -> Deferred[None]:
        """A Deferred that fires (with None) once this connection is closed."""
        d: Deferred[None] = Deferred()
        if self._lost and self.transport is None:
            d.callback(None)
        else:
            self._lost_waiters.append(d)
        return d

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        """Fail every pending action with L{AMIConnectionLost} and stop delivering."""
        self._lost = True
        self._buffer = b""
        self._parts.clear()
        pending, self._pending = list(self._pending.values()), {}
        why = reason.getErrorMessage() if reason is not None else "connection closed"
        waiters, self._lost_waiters = self._lost_waiters, []
        self.transport = None
        # Owners learn of the loss first, so a failed action's retry cannot pick this link.
        for d in waiters:
            d.callback(None)
        for action in pending:
            action.fail(AMIConnectionLost(f"AMI link lost before {action.name} finished: {why}"))
