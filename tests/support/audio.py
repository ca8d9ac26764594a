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
