# -*- test-case-name: tests.floor.test_audiosocket -*-
"""Asterisk's AudioSocket protocol, the server side: a channel's audio streamed to us over TCP.

Each message is one kind byte, a two-byte big-endian length and that many payload bytes. The
first message names the stream (kind C{0x01}, a 16-byte UUID, the one in the channel's dial
string ``AudioSocket/host:port/<uuid>``); audio follows as signed linear 8 kHz 16-bit mono
(kind C{0x10}, 20 ms = 320 bytes a message); C{0x00} says the channel hung up, C{0xff} carries
an error code. Framing does not depend on how TCP cuts the bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

__all__ = ["AudioSocketProtocol", "AudioSocketFactory", "AudioSink", "AudioSocketError",
           "KIND_HANGUP", "KIND_UUID", "KIND_DTMF", "KIND_AUDIO", "KIND_ERROR", "frame"]

KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF


class AudioSocketError(Exception):
    """The peer broke the protocol (audio before the UUID, a malformed UUID)."""


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One message as the wire carries it.

    >>> frame(KIND_HANGUP)
    b'\\x00\\x00\\x00'
    """
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + payload


class AudioSink:
    """Where one stream's audio goes: a subclass (or the factory's C{sink_for}) overrides."""

    def audio(self, pcm: bytes) -> None:
        """Signed linear audio, in arrival order."""

    def ended(self, reason: str) -> None:
        """The stream is over (hang-up, error or lost connection); called once."""


class AudioSocketProtocol(Protocol):
    """One AudioSocket connection: frames bytes into messages and hands audio to its sink."""

    #: Longest payload accepted; AudioSocket messages carry at most 65535 bytes anyway.
    MAX_PAYLOAD = 65535
    _log = Logger(namespace="hotline.floor.audiosocket")

    def __init__(self, sink_for: Callable[[uuid.UUID], AudioSink | None]) -> None:
        self._sink_for = sink_for
        self._buffer = bytearray()
        self.stream: uuid.UUID | None = None
        self.sink: AudioSink | None = None
        self._ended = False

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 3 and not self._ended:
            length = int.from_bytes(self._buffer[1:3], "big")
            if len(self._buffer) < 3 + length:
                return
            kind = self._buffer[0]
            payload = bytes(self._buffer[3:3 + length])
            del self._buffer[:3 + length]
            try:
                self.messageReceived(kind, payload)
            except AudioSocketError as e:
                self._log.warn("audiosocket {stream}: {error}", stream=self.stream, error=e)
                self._end(str(e))
                self.transport.loseConnection()
                return

    def messageReceived(self, kind: int, payload: bytes) -> None:
        """One message: the stream's UUID, audio, a hang-up or an error."""
        if kind == KIND_UUID:
            if len(payload) != 16:
                raise AudioSocketError(f"a UUID is 16 bytes, not {len(payload)}")
            self.stream = uuid.UUID(bytes=payload)
            self.sink = self._sink_for(self.stream)
            if self.sink is None:
                raise AudioSocketError(f"no live stream {self.stream} is expected")
        elif kind == KIND_AUDIO:
            if self.sink is None:
                raise AudioSocketError("audio before the stream's UUID")
            self.sink.audio(payload)
        elif kind == KIND_HANGUP:
            self._end("hangup")
            self.transport.loseConnection()
        elif kind == KIND_ERROR:
            self._end(f"error {payload.hex() or '?'}")
            self.transport.loseConnection()
        # DTMF and kinds we do not know are passed over.

    def connectionLost(self, reason: object = None) -> None:
        self._end("connection lost")

    def _end(self, why: str) -> None:
        if self._ended:
            return
        self._ended = True
        if self.sink is not None:
            self.sink.ended(why)


class AudioSocketFactory(Factory):
    """Builds a protocol per connection; C{sink_for(uuid)} names the stream's sink (None
    refuses a stream nobody expects)."""

    def __init__(self, sink_for: Callable[[uuid.UUID], AudioSink | None]) -> None:
        self.sink_for = sink_for

    def buildProtocol(self, addr: object) -> AudioSocketProtocol:
        return AudioSocketProtocol(self.sink_for)
