# -*- test-case-name: tests.stt.test_decoder -*-
"""Decode one recording with Vosk's KaldiRecognizer: utterances with times, words, confidence.

A plain function over a loaded model, so tests and the command line call it without the worker
pool. It blocks for about a fifth of the audio's length: never call it on the reactor thread.
The recogniser is told the file's real sample rate (the PBX writes 8 kHz; Vosk resamples to
the model's rate; a wrong declared rate gives garbage), and audio goes in fixed chunks so the
same file always gives the same result with a dither-off model (see ``hotline.stt.models``).
"""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AudioError", "Word", "Utterance", "DecodeResult", "decode_file", "check_audio",
           "DEFAULT_CHUNK_FRAMES"]

DEFAULT_CHUNK_FRAMES = 4000
#: Rates a telephone or wideband recording comes in; anything else is refused as a mistake.
_RATES = range(8000, 48001)


class AudioError(Exception):
    """A recording cannot be decoded. ``permanent`` is false when trying later may help
    (the file is not there yet); ``error_id`` names the kind of problem."""

    def __init__(self, path: Path | str, message: str, *, error_id: str,
                 permanent: bool = True) -> None:
        super().__init__(f"{Path(path).name}: {message}")
        self.path = str(path)
        self.error_id = error_id
        self.permanent = permanent


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech between pauses, times in seconds from the start of the file."""

    start_s: float
    end_s: float
    text: str
    confidence: float | None
    words: tuple[Word, ...]


@dataclass(frozen=True)
class DecodeResult:
    utterances: tuple[Utterance, ...]
    duration_s: float
    sample_rate: int

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)


def check_audio(path: Path | str) -> tuple[int, int]:
    """(sample rate, frames) of a 16-bit mono PCM WAV file. Raises AudioError saying what is
    wrong: missing (not permanent), unreadable, wrong format, or empty."""
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "the recording file does not exist", error_id="audio-missing",
                         permanent=False)
    try:
        with wave.open(str(p), "rb") as w:
            rate, frames = w.getframerate(), w.getnframes()
            width, channels = w.getsampwidth(), w.getnchannels()
    except (wave.Error, EOFError) as e:
        raise AudioError(p, f"not a readable WAV file ({e})", error_id="audio-unreadable") \
            from None
    except OSError as e:
        raise AudioError(p, f"cannot read the file ({e.strerror or e})",
                         error_id="audio-unreadable", permanent=False) from None
    if width != 2 or channels != 1:
        raise AudioError(p, f"expected 16-bit mono PCM, got {8 * width}-bit with {channels} "
                         "channels", error_id="audio-format")
    if rate not in _RATES:
        raise AudioError(p, f"sample rate {rate} Hz is not a speech recording's",
                         error_id="audio-format")
    if frames == 0:
        raise AudioError(p, "the recording is empty (no audio)", error_id="audio-empty")
    return rate, frames


def decode_file(model: Any, path: Path | str, *, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                grammar: Sequence[str] | None = None) -> DecodeResult:
    """Decode ``path`` with ``model`` (a ``vosk.Model``); ``grammar`` restricts the words to
    those phrases. Raises AudioError for a file that cannot be decoded."""
    import vosk

    rate, frames = check_audio(path)
    if grammar is not None:
        recognizer = vosk.KaldiRecognizer(model, rate, json.dumps(list(grammar),
                                                                  ensure_ascii=False))
    else:
        recognizer = vosk.KaldiRecognizer(model, rate)
    recognizer.SetWords(True)
    utterances: list[Utterance] = []
    try:
        with wave.open(str(path), "rb") as w:
            while True:
                data = w.readframes(chunk_frames)
                if not data:
                    break
                if recognizer.AcceptWaveform(data):
                    _collect(recognizer.Result(), utterances)
    except (wave.Error, EOFError, OSError) as e:
        raise AudioError(path, f"reading the audio failed part-way ({e})",
                         error_id="audio-unreadable") from None
    _collect(recognizer.FinalResult(), utterances)
    return DecodeResult(utterances=tuple(utterances), duration_s=frames / rate,
                        sample_rate=rate)


def _collect(result_json: str, into: list[Utterance]) -> None:
    result = json.loads(result_json)
    words = tuple(Word(word=w["word"], start_s=float(w["start"]), end_s=float(w["end"]),
                       confidence=float(w.get("conf", 1.0)))
                  for w in result.get("result", ()))
    text = (result.get("text") or "").strip()
    if not words or not text:
        return
    confidence = sum(w.confidence for w in words) / len(words)
    into.append(Utterance(start_s=words[0].start_s, end_s=words[-1].end_s, text=text,
                          confidence=round(confidence, 4), words=words))
