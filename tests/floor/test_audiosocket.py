"""Tests for L{hotline.floor.audiosocket}: AudioSocket messages framed from bytes cut anywhere."""

from __future__ import annotations

import uuid

from twisted.internet.testing import StringTransport

from hotline.floor.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_HANGUP,
    KIND_UUID,
    AudioSink,
    AudioSocketProtocol,
    frame,
)

STREAM = uuid.UUID("12345678-1234-5678-1234-567812345678")


class _Sink(AudioSink):
    def __init__(self) -> None:
        self.pcm = bytearray()
        self.why: list[str] = []

    def audio(self, pcm: bytes) -> None:
        self.pcm += pcm

    def ended(self, reason: str) -> None:
        self.why.append(reason)


def _session() -> bytes:
    audio = bytes(range(256)) * 3
    return (frame(KIND_UUID, STREAM.bytes) + frame(KIND_AUDIO, audio[:320])
            + frame(KIND_DTMF, b"5") + frame(KIND_AUDIO, audio[320:]) + frame(KIND_HANGUP))


def test_every_chunk_size_gives_the_same_stream():
    """Fed in chunks of 1 to 9 bytes, the same session gives the same audio, in order, the
    named stream's sink, and one end ("hangup"); DTMF is passed over."""
    for size in range(1, 10):
        sink = _Sink()
        asked: list[uuid.UUID] = []
        proto = AudioSocketProtocol(lambda u, s=sink, a=asked: (a.append(u), s)[1])
        transport = StringTransport()
        proto.makeConnection(transport)
        data = _session()
        for i in range(0, len(data), size):
            proto.dataReceived(data[i:i + size])
        proto.connectionLost(None)
        assert asked == [STREAM]
        assert bytes(sink.pcm) == (bytes(range(256)) * 3)
        assert sink.why == ["hangup"] and transport.disconnecting


def test_an_unexpected_stream_is_refused():
    """A UUID nobody expects ends the connection at once; its audio goes nowhere."""
    proto = AudioSocketProtocol(lambda u: None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(frame(KIND_UUID, STREAM.bytes) + frame(KIND_AUDIO, b"\0" * 320))
    assert transport.disconnecting


def test_audio_before_the_uuid_is_a_protocol_error():
    """Audio before the stream is named drops the connection rather than guessing."""
    proto = AudioSocketProtocol(lambda u: _Sink())
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(frame(KIND_AUDIO, b"\0" * 320))
    assert transport.disconnecting and proto.sink is None


def test_a_lost_connection_ends_the_stream_once():
    """A connection lost mid-stream ends it once, with the reason."""
    sink = _Sink()
    proto = AudioSocketProtocol(lambda u: sink)
    proto.makeConnection(StringTransport())
    proto.dataReceived(frame(KIND_UUID, STREAM.bytes) + frame(KIND_AUDIO, b"\1\0"))
    proto.connectionLost(None)
    proto.connectionLost(None)
    assert sink.why == ["connection lost"] and bytes(sink.pcm) == b"\1\0"
