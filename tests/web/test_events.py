"""The event stream's own edges: refused without a live call view; stopping with streams in
every state a connection can be in.

The real streams (pops, bridge rooms, callbacks, transcripts) are tested through the browser and
``tests/web/test_bridge_api.py``; this covers what a browser produces only by chance: a stream
whose connection went away without Twisted telling ``notifyFinish`` (its documented caveat for
a paused channel), which made a controller's stop raise in the full suite and leave its ports
bound for the next test."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.plugins import web_console
from hotline.web.events import EventStream, _Client
from tests.calls.support import CITIZEN_UID, FakeAMI, citizen
from tests.support.waiting import until
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, EventReader, sign_in


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


@pytest_twisted.ensureDeferred
async def test_a_console_without_a_pbx_link_refuses_the_stream(console):
    """A console with no live call view answers ``/api/events`` with 503 not-available (the
    desk then shows it is not connected) instead of a stream that never carries a call."""
    client = HTTP(console.port)
    await sign_in(client, "agent1", PASSWORDS["agent1"])
    reply = await client.get("/api/events")
    assert reply.status == 503, reply.text
    assert reply.json()["error_id"] == "not-available"
    assert "live call view" in reply.json()["message"]


@pytest_twisted.ensureDeferred
async def test_a_console_with_a_live_view_streams_its_calls(db, tmp_path):
    """With a live call view the same request opens a stream: ``hello`` with the seat, then
    the calls the tracker publishes as they change."""
    add_users(db)
    ami = FakeAMI()
    tracker = CallTracker(ami=ami, clock=reactor, queue_name="hotline")
    tracker.subscribe()
    web = web_console(config=web_config(tmp_path), db=db, reactor=reactor,
                      calls=CallService(tracker=tracker), bus=tracker.bus)
    await web.start()
    client = HTTP(web.port)
    await sign_in(client, "agent1", PASSWORDS["agent1"])
    reader = EventReader(web.port, client.cookies).start()
    try:
        await until(lambda: reader.named("hello"), timeout=10)
        assert reader.status == 200
        assert reader.named("hello")[0]["seat"] == "1001"
        ami.emit("Newchannel", **citizen(state=4))
        ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
        await until(lambda: reader.named("call"), timeout=10)
        assert reader.named("call")[0]["uniqueid"] == CITIZEN_UID
    finally:
        reader.close()
        await web.stop()
