"""Measure what a recording holds: energy in a frequency band, for telling speakers apart."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path


def read_samples(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, "expect 16-bit mono"
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    return list(struct.unpack(f"<{len(frames) // 2}h", frames)), rate


def tone_power(samples: list[int], rate: int, freq: float) -> float:
    """Goertzel power of ``freq`` over the samples, normalised by length."""
    if not samples:
        return 0.0
    k = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s_prev = s_prev2 = 0.0
    for x in samples:
        s = x + k * s_prev - s_prev2
        s_prev2, s_prev = s_prev, s
    power = s_prev2 ** 2 + s_prev ** 2 - k * s_prev * s_prev2
    return power / len(samples)


def band_ratio(path: Path, wanted: float, other: float) -> float:
    """How much stronger ``wanted`` is than ``other`` in the file (large: only ``wanted``)."""
    samples, rate = read_samples(path)
    return (tone_power(samples, rate, wanted) + 1.0) / (tone_power(samples, rate, other) + 1.0)


def wav_seconds(path: Path) -> float:
    """Length of a WAV file (0 when there is none)."""
    if not path.exists():
        return 0.0
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


#: Frequencies that sample the band where most of a voice's energy lies.
SPEECH_HZ = (300, 400, 500, 600, 700, 800, 900)


def speech_over_tone(path: Path, tone: float) -> float:
    """How much more of the file's energy lies across the speech band than at one steady
    ``tone`` (large: a voice, without that tone; a file of the tone alone gives nearly 0).

    One frequency bin of speech swings with its formants, so the band is sampled at several."""
    samples, rate = read_samples(path)
    band = sum(tone_power(samples, rate, f) for f in SPEECH_HZ)
    return (band + 1.0) / (tone_power(samples, rate, tone) + 1.0)


def voiced_seconds(path: Path, level: int = 500) -> float:
    """Seconds of the file (in 20 ms frames) whose peak exceeds ``level``: not silence."""
    samples, rate = read_samples(path)
    frame = rate // 50
    return sum(1 for i in range(0, len(samples), frame)
               if max((abs(x) for x in samples[i:i + frame]), default=0) > level) / 50
