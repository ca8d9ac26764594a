"""The Mandarin prompts: real speech for citizens, and the short set the test suite runs on.

The session's sandbox plays 0.3 s of silence for every prompt (``pbx.short_prompts``), so these
tests are the ones that keep the real prompts honest: each is speech of the right format, and a
sandbox with them greets a caller with the whole greeting before the queue.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from hotline.pbx.prompts import PROMPTS, SHORT_PROMPT_S, build_prompts
from tests.support.pbx import city_ami, pbx_ami, running_sandbox, sandbox_config, sandbox_ports


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / w.getframerate()


def test_real_prompts_are_speech_that_playback_takes(tmp_path: Path):
    """Every prompt is an 8 kHz mono 16-bit file of speech, the greeting several seconds long
    (a one-syllable word of the reminder call, a digit or 月, is shorter than a sentence)."""
    build_prompts(tmp_path)
    lengths = {name: _seconds(tmp_path / "zh" / f"{name}.wav") for name in PROMPTS}
    assert min(lengths.values()) > 0.4, lengths
    assert min(v for k, v in lengths.items() if len(PROMPTS[k][0]) > 2) > 0.8, lengths
    assert lengths["welcome"] > 5 and lengths["bridge-intro"] > 5, lengths
    assert _seconds(tmp_path / "moh" / "soft-tone.wav") > 5


def test_short_set_is_short_and_switching_sets_rebuilds(tmp_path: Path):
    """The short set has every prompt at SHORT_PROMPT_S; an unchanged set is kept as it is,
    and switching sets rewrites the files."""
    build_prompts(tmp_path, short=True)
    welcome = tmp_path / "zh" / "welcome.wav"
    assert {round(_seconds(tmp_path / "zh" / f"{n}.wav"), 2) for n in PROMPTS} \
        == {SHORT_PROMPT_S}
    made = welcome.stat().st_mtime_ns
    build_prompts(tmp_path, short=True)
    assert welcome.stat().st_mtime_ns == made
    build_prompts(tmp_path)
    assert _seconds(welcome) > 5


@pytest.mark.pbx
def test_a_sandbox_with_real_prompts_greets_the_caller_in_full(tmp_path: Path):
    """With the real prompts a citizen's call plays the whole greeting before it queues."""
    cfg = sandbox_config(tmp_path, {**sandbox_ports(2), "pbx": {**sandbox_ports(2)["pbx"],
                                                                  "short_prompts": False}})
    with running_sandbox(cfg) as sandbox:
        greeting = _seconds(sandbox.var_dir / "sounds" / "zh" / "welcome.wav")
        assert greeting > 5
        pbx, city = pbx_ami(sandbox), city_ami(sandbox)
        try:
            city.action("Originate", Channel="PJSIP/83658365@hotline", Application="Wait",
                        Data="30", CallerID="<13800138011>", Timeout="10000", Async="true")

            def app(name: str):
                return lambda e: (e["Event"] == "Newexten" and e.get("Context") == "inbound"
                                  and e.get("Application") == name)
            played = pbx.wait_event(lambda e: app("Playback")(e)
                                    and e.get("AppData", "").endswith("/zh/welcome"), 20)
            started = time.monotonic()
            pbx.wait_event(app("Queue"), greeting + 10)
            assert time.monotonic() - started >= greeting - 0.5, played
        finally:
            city.action("Hangup", Channel="/^PJSIP/", Cause="16")
            pbx.close()
            city.close()


def test_a_phrase_no_prompt_holds_is_said_once_and_kept(tmp_path: Path):
    """A department's name becomes speech named by its text, made once; the short set makes
    silence instead; an empty text is refused."""
    from hotline.pbx.prompts import PromptError, build_phrase

    stem = build_phrase(tmp_path, "区市政管理处")
    said = tmp_path / f"{stem}.wav"
    assert _seconds(said) > 0.8
    made = said.stat().st_mtime_ns
    assert build_phrase(tmp_path, "区市政管理处") == stem and said.stat().st_mtime_ns == made
    assert build_phrase(tmp_path, "供电公司") != stem
    short = build_phrase(tmp_path / "short", "区市政管理处", short=True)
    assert round(_seconds(tmp_path / "short" / f"{short}.wav"), 2) == SHORT_PROMPT_S
    with pytest.raises(PromptError):
        build_phrase(tmp_path, "  ")
