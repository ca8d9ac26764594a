"""The event stream's own edge: stopping with streams in every state a connection can be in.

The real streams (pops, bridge rooms, callbacks, transcripts) are tested through the browser and
``tests/web/test_bridge_api.py``; this covers what a browser produces only by chance: a stream
whose connection went away without Twisted telling ``notifyFinish`` (its documented caveat for
a paused channel), which made a controller's stop raise in the full suite and leave its ports
bound for the next test."""

from __future__ import annotations

from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from hotline.web.events import EventStream, _Client


def _stream_request() -> Request:
    request = Request(DummyChannel())
    request.method, request.uri, request.path, request.clientproto = (
        b"GET", b"/api/events", b"/api/events", b"HTTP/1.1")
    request.write(b"retry: 2000\n\n")
    return request


def test_stop_finishes_live_streams_and_passes_over_lost_ones():
    stream = EventStream(console=None)  # type: ignore[arg-type] - stop() needs no console
    live, lost = _stream_request(), _stream_request()
    lost._disconnected = True  # gone, and notifyFinish was never told
    stream.clients = [_Client(live, "agent1", "1001"), _Client(lost, "agent2", "1002")]
    stream.stop()
    assert live.finished and not lost.finished
    assert stream.clients == []
