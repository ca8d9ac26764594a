"""Live captions under overload (unit, no PBX, no model): a call whose decoding falls too far
behind its audio gives live captions up, instead of every call's captions lagging."""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.task import Clock

from hotline.bus import EventBus
from hotline.floor.captions import LiveCaptions, _Call
from hotline.stt.live import LiveTranscripts

CHUNK = b"\x10\x27" * 800  # 0.1 s of loud 8 kHz audio


class _NoModel:
    """The decoders never get to run here (their pool is not started): the backlog grows."""

    def get(self):  # pragma: no cover - never reached
        raise AssertionError("nothing is decoded in these tests")


class _Reactor(Clock):
    """Time by hand; threads (the decoders' pool is never started) from the real reactor."""

    def callFromThread(self, f, *args, **kw):  # noqa: N802 - the reactor's name
        return reactor.callFromThread(f, *args, **kw)


def _service(shed_after_s: float) -> tuple[LiveCaptions, list[dict]]:
    pushed: list[dict] = []
    service = LiveCaptions(ami=None, tracker=None, bus=EventBus(), db=None,
                           registry=_NoModel(), transcripts=LiveTranscripts(),
                           reactor=_Reactor(),
                           push=lambda _interface, payload: pushed.append(payload),
                           workers=1, chunk_ms=100, shed_after_s=shed_after_s)
    return service, pushed


def test_a_call_far_behind_is_given_up_and_left_to_decoding_after_hang_up():
    """Past shed_after_s of audio waiting, the call stops decoding (both speakers), the desk
    is told once, and its live words are no transcript: whoever waits for it gets None."""
    service, pushed = _service(shed_after_s=0.3)
    call = _Call(uniqueid="c1", interface="PJSIP/agent-1001")
    citizen = service.sink_for(service.expect(call, "citizen"))
    agent = service.sink_for(service.expect(call, "agent"))
    other = _Call(uniqueid="c0", interface="PJSIP/agent-1002")
    service.expect(other, "citizen")  # another call still captioned
    waiting = []
    for _ in range(3):
        citizen.audio(CHUNK)
    assert not call.shed and service.transcripts.captured("c1")
    service.transcripts.finished("c1").addCallback(waiting.append)
    for _ in range(3):
        citizen.audio(CHUNK)
    assert call.shed and service.shed_calls == 1
    assert [p["kind"] for p in pushed] == ["shed"] and pushed[0]["call"] == "c1"
    assert waiting == [None] and not service.transcripts.captured("c1")
    assert service.transcripts.given_up("c1")
    before = citizen.backlog_bytes
    agent.audio(CHUNK)
    citizen.audio(CHUNK)
    assert citizen.backlog_bytes == before and agent.backlog_bytes == 0
    assert [p["kind"] for p in pushed] == ["shed"]


def test_with_shedding_off_captions_lag_but_are_kept():
    """shed_after_s = 0: however far behind, the call keeps its live captions."""
    service, pushed = _service(shed_after_s=0)
    call = _Call(uniqueid="c2", interface="PJSIP/agent-1001")
    citizen = service.sink_for(service.expect(call, "citizen"))
    for _ in range(100):
        citizen.audio(CHUNK)
    assert not call.shed and pushed == [] and service.transcripts.captured("c2")
    assert citizen.backlog_bytes == 100 * len(CHUNK)


def test_calls_are_given_up_one_at_a_time_and_the_last_is_kept():
    """All calls behind at once: one is given up; the next only after shed_after_s (time to
    catch up with what the first freed); the last captioned call is never given up."""
    service, pushed = _service(shed_after_s=0.3)
    calls = [_Call(uniqueid=f"c{k}", interface=f"PJSIP/agent-100{k}") for k in range(3)]
    sinks = [service.sink_for(service.expect(c, "citizen")) for c in calls]
    for _ in range(6):
        for sink in sinks:
            sink.audio(CHUNK)
    assert [c.shed for c in calls] == [True, False, False]
    service.reactor.advance(0.31)
    for _ in range(2):
        for sink in sinks:
            sink.audio(CHUNK)
    assert [c.shed for c in calls] == [True, True, False]
    service.reactor.advance(10)
    for _ in range(20):
        sinks[2].audio(CHUNK)
    assert [c.shed for c in calls] == [True, True, False]
    assert [p["call"] for p in pushed] == ["c0", "c1"]
