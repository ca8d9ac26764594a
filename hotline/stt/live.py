# -*- test-case-name: tests.stt.test_live -*-
"""Decoding a call while it is up: one Vosk recogniser per speaker's audio stream, fed as the
audio arrives, giving partial text (the words so far, which may still change) and final
segments (an utterance ended by a pause).

A L{LiveRecognizer} is plain and blocking (call it from a worker thread, never the reactor);
L{LiveTranscripts} keeps the final segments of each live call on the reactor until the call is
finalised, so that the ticket's note is the transcript the agent saw, not a second decoding of
the recordings (L{hotline.stt.service.TranscriptionService.on_call_finalised}).
"""

from __future__ import annotations

import array
import json
import math
import sys
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from hotline.stt.jobs import Segment

__all__ = ["LiveText", "LiveRecognizer", "LiveTranscripts", "SAMPLE_RATE"]

#: Asterisk's signed linear audio (AudioSocket's default): 8 kHz, 16-bit, mono.
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class LiveText:
    """What the recogniser says after some audio: C{kind} C{partial} (the utterance so far) or
    C{final} (an ended utterance, with its times in seconds from the stream's start);
    C{fed_s} is how much of the stream had been decoded when it was said."""

    kind: str
    text: str
    start_s: float
    end_s: float
    fed_s: float
    confidence: float | None = None


class LiveRecognizer:
    """One speaker's stream through a recogniser over a shared loaded model (blocking)."""

    #: Quiet audio after an utterance that still goes to the recogniser (it ends the
    #: utterance on a pause); beyond it, silence is not decoded at all.
    HANGOVER_S = 0.6

    def __init__(self, model: Any, *, rate: int = SAMPLE_RATE,
                 silence_rms: float = 120.0) -> None:
        """
        @param silence_rms: chunks whose RMS is below this are silence: between utterances
            they are skipped (a call is mostly one party listening), which roughly halves the
            decoding; 0 decodes everything.
        """
        import vosk

        self._rec = vosk.KaldiRecognizer(model, rate)
        self._rec.SetWords(True)
        self._bytes_per_second = 2 * rate
        self.silence_rms = silence_rms
        #: All audio received (the stream's clock) and the part of it the recogniser skipped.
        self.fed_bytes = 0
        self.skipped_bytes = 0
        self._quiet_bytes = 0
        self._held = b""
        self._last_partial = ""
        self._utterance_start = 0.0
        #: Skipped seconds before the utterance being decoded (the recogniser's own times
        #: leave them out).
        self._offset_s = 0.0

    @property
    def fed_s(self) -> float:
        return self.fed_bytes / self._bytes_per_second

    def accept(self, pcm: bytes) -> list[LiveText]:
        """Feed signed-linear audio; return what changed: a new partial, or a final segment."""
        if not pcm:
            return []
        self.fed_bytes += len(pcm)
        if self.silence_rms > 0 and _rms(pcm) < self.silence_rms:
            self._quiet_bytes += len(pcm)
            idle = not self._last_partial
            if idle and self._quiet_bytes > self.HANGOVER_S * self._bytes_per_second:
                self.skipped_bytes += len(self._held)
                self._held = pcm  # kept: the next word's onset may begin in it
                return []
        else:
            self._quiet_bytes = 0
        if self._held:
            self._offset_s = (self.skipped_bytes) / self._bytes_per_second
            pcm, self._held = self._held + pcm, b""
        if self._rec.AcceptWaveform(pcm):
            return self._final(self._rec.Result())
        partial = json.loads(self._rec.PartialResult()).get("partial", "").strip()
        if not partial or partial == self._last_partial:
            return []
        if not self._last_partial:
            self._utterance_start = max(self.fed_s - len(pcm) / self._bytes_per_second, 0.0)
        self._last_partial = partial
        return [LiveText("partial", partial, self._utterance_start, self.fed_s, self.fed_s)]

    def finish(self) -> list[LiveText]:
        """The stream ended: the last utterance, if any speech was pending."""
        return self._final(self._rec.FinalResult())

    def _final(self, raw: str) -> list[LiveText]:
        self._last_partial = ""
        data = json.loads(raw)
        text = (data.get("text") or "").strip()
        if not text:
            return []
        words = data.get("result") or []
        start = float(words[0]["start"]) + self._offset_s if words else self._utterance_start
        end = float(words[-1]["end"]) + self._offset_s if words else self.fed_s
        confidence = (sum(float(w.get("conf", 0.0)) for w in words) / len(words)
                      if words else None)
        return [LiveText("final", text, start, end, self.fed_s, confidence)]


def _rms(pcm: bytes) -> float:
    """Root mean square of signed 16-bit little-endian samples."""
    samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder != "little":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(x * x for x in samples) / len(samples))


class LiveTranscripts:
    """The live calls' final segments, by the citizen channel's uniqueid (reactor only).

    A call is L{open}ed when its first stream starts and each stream L{close}s when it ends;
    L{finished} fires once every stream of the call has closed, with its segments in time
    order (None for a call never captioned)."""

    def __init__(self) -> None:
        self._segments: dict[str, list[Segment]] = {}
        self._open: dict[str, int] = {}
        self._waiting: dict[str, list[defer.Deferred[list[Segment] | None]]] = {}
        #: Calls the captions gave up (overload): decoded after hang-up like any call.
        self._given_up: set[str] = set()

    def open(self, call: str) -> None:
        if call in self._given_up:
            return
        self._segments.setdefault(call, [])
        self._open[call] = self._open.get(call, 0) + 1

    def add(self, call: str, segment: Segment) -> None:
        if call not in self._given_up:
            self._segments.setdefault(call, []).append(segment)

    def give_up(self, call: str) -> None:
        """The captions stopped following C{call} before its end (the decoders were behind):
        its live words are no transcript, so it is not L{captured} any more and whoever waits
        for it gets None, as for a call never captioned: its recordings are decoded after
        hang-up. Remembered until the call is L{forget}-ten."""
        self._given_up.add(call)
        self._segments.pop(call, None)
        self._open.pop(call, None)
        for d in self._waiting.pop(call, []):
            d.callback(None)

    def given_up(self, call: str) -> bool:
        return call in self._given_up

    def forget(self, call: str) -> None:
        """The call is over and settled: drop what is kept of it."""
        self._given_up.discard(call)

    def segments(self, call: str) -> list[Segment]:
        return sorted(self._segments.get(call, ()), key=lambda s: (s.start_s, s.speaker))

    def close(self, call: str) -> None:
        if call in self._given_up:
            return
        left = self._open.get(call, 0) - 1
        if left > 0:
            self._open[call] = left
            return
        self._open.pop(call, None)
        for d in self._waiting.pop(call, []):
            d.callback(self.segments(call))

    def captured(self, call: str) -> bool:
        return call in self._segments

    def finished(self, call: str) -> defer.Deferred[list[Segment] | None]:
        """Fires with the call's segments once its streams have all ended (and forgets them);
        at once with None for a call that was never captioned."""
        if call not in self._segments:
            return defer.succeed(None)
        d: defer.Deferred[list[Segment] | None] = defer.Deferred()
        if call not in self._open:
            d.callback(self.segments(call))
        else:
            self._waiting.setdefault(call, []).append(d)

        def forget(result: list[Segment] | None) -> list[Segment] | None:
            if call not in self._open:
                self._segments.pop(call, None)
            return result
        return d.addCallback(forget)
