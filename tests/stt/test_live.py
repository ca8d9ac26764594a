"""Tests for L{hotline.stt.live}: the live recogniser over the shipped Korean model (structure,
never the words) and the record of a live call's segments until it is finalised."""

from __future__ import annotations

import wave

from hotline.stt.jobs import Segment
from hotline.stt.live import LiveRecognizer, LiveTranscripts
from tests.stt.support import say, track


def test_partials_then_a_final_with_times(model, speech_dir, tmp_path):
    """Speech fed in 0.1 s chunks gives partial text that grows, then a final utterance whose
    times lie within the audio fed; silence gives nothing."""
    path = track([(0.5, say("물이 안 나와요", speech_dir))], 4.0, tmp_path / "live.wav")
    with wave.open(str(path), "rb") as w:
        pcm = w.readframes(w.getnframes())
    rec = LiveRecognizer(model)
    out = []
    for i in range(0, len(pcm), 1600):
        out += rec.accept(pcm[i:i + 1600])
    out += rec.finish()
    kinds = [t.kind for t in out]
    assert "partial" in kinds and kinds[-1] == "final" and kinds.count("final") >= 1
    final = next(t for t in out if t.kind == "final")
    assert final.text.strip() and 0.0 <= final.start_s < final.end_s <= 4.0
    assert all(t.start_s <= t.fed_s + 0.01 for t in out)
    quiet = LiveRecognizer(model)
    assert quiet.accept(b"\0" * 16000) == [] and quiet.finish() == []


def test_transcripts_fire_when_every_stream_has_ended():
    """The call's segments are handed over (in time order) once both its streams closed; a
    call never captioned gives None at once."""
    live = LiveTranscripts()
    assert live.finished("none").result is None
    live.open("c1")
    live.open("c1")
    live.add("c1", Segment("agent", 2.0, 3.0, "b", None))
    live.add("c1", Segment("citizen", 0.5, 1.0, "a", None))
    got = []
    live.finished("c1").addCallback(got.append)
    live.close("c1")
    assert got == []
    live.close("c1")
    assert [g.text for g in got[0]] == ["a", "b"]
    assert not live.captured("c1")


def test_a_call_given_up_is_no_longer_captured_and_its_waiters_get_none():
    """give_up: the call's segments are dropped, later segments and closes are ignored, and
    finished() answers None (decode it after hang-up), before and after the give-up."""
    live = LiveTranscripts()
    live.open("c")
    live.add("c", Segment("citizen", 0.0, 1.0, "안녕", 0.9))
    early = []
    live.finished("c").addCallback(early.append)
    live.give_up("c")
    live.open("c")
    live.add("c", Segment("agent", 1.0, 2.0, "네", 0.9))
    live.close("c")
    late = []
    live.finished("c").addCallback(late.append)
    assert early == [None] and late == [None]
    assert not live.captured("c") and live.given_up("c")
    live.forget("c")
    assert not live.given_up("c")
