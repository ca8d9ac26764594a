# -*- test-case-name: tests.stt.test_decoder -*-
"""Speech for simulated parties, synthesised with espeak-ng as the PBX's Playback takes it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

# The prompts' own conversion: simulated citizens and the hotline's prompts speak alike.
from hotline.pbx.prompts import to_pinyin

__all__ = ["SpeechError", "synthesise", "tone_file", "to_pinyin", "convert_for_playback"]


class SpeechError(Exception):
    """The speech could not be made; says which tool failed and how."""


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SpeechError(f"{cmd[0]} failed (exit {proc.returncode}): {proc.stderr.strip()}")


def convert_for_playback(source: Path, out_dir: Path, *, rate: int = 8000) -> Path:
    """Any audio file sox reads, as an 8 kHz mono 16-bit WAV the PBX plays; cached by content."""
    if not source.is_file():
        raise SpeechError(f"no such audio file: {source}")
    if not shutil.which("sox"):
        raise SpeechError("sox is not installed: run `make deps`")
    digest = hashlib.sha1(source.read_bytes()).hexdigest()[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"play-{digest}.wav"
    if not out.exists():
        tmp = out_dir / f".play-{digest}.wav"
        _run(["sox", "-G", str(source), "-r", str(rate), "-c", "1", "-b", "16", str(tmp)])
        tmp.rename(out)
    return out


def synthesise(text: str, out_dir: Path, *, voice: str = "cmn-latn-pinyin",
               rate: int = 8000) -> Path:
    """An 8 kHz mono 16-bit WAV of ``text``, cached by content in ``out_dir``.

    ``voice`` is an espeak-ng voice; Mandarin goes as tone-numbered pinyin with
    ``cmn-latn-pinyin`` (Debian 12's ``cmn`` voice misreads Hanzi).
    """
    if not text.strip():
        raise SpeechError("nothing to say: the text is empty")
    text = to_pinyin(text)
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            raise SpeechError(f"{tool} is not installed: run `make deps`")
    digest = hashlib.sha1(f"{voice}|{rate}|{text}".encode()).hexdigest()[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"say-{digest}.wav"
    if out.exists():
        return out
    raw = out_dir / f".say-{digest}.raw.wav"
    _run(["espeak-ng", "-v", voice, "-w", str(raw), text])
    _run(["sox", "-G", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)])
    raw.unlink()
    return out


def tone_file(freq: int, seconds: float, out_dir: Path, *, rate: int = 8000) -> Path:
    """A steady sine tone, for tests that tell speakers apart by frequency band."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"tone-{freq}-{seconds:g}-{rate}.wav"
    if not out.exists():
        _run(["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(out),
              "synth", f"{seconds:g}", "sine", str(freq), "vol", "0.5"])
    return out
