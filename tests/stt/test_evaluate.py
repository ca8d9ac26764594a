"""Character error rate: the arithmetic, and a folder of recordings with reference texts
scored with the real decoder."""

from __future__ import annotations

import pytest

from hotline.stt.decoder import decode_file
from hotline.stt.evaluate import cer, closest, edit_distance, evaluate_dir, normalise
from tests.stt.conftest import DECODES
from tests.stt.support import say

pytestmark = DECODES


def test_cer_counts_characters_ignoring_spaces_and_punctuation():
    assert normalise("我家 停水了，请帮忙！") == "我家停水了请帮忙"
    assert cer("我家停水了", "我 家 停 水 了") == 0.0
    assert cer("我家停水了", "我家停电了") == pytest.approx(1 / 5)
    assert cer("我家停水了", "") == 1.0
    assert cer("", "") == 0.0 and cer("", "啊") == 1.0
    assert edit_distance("kitten", "sitting") == 3


def test_closest_picks_the_nearest_sentence():
    assert closest("물 이 안 나 요", ["전기 가 나갔 어요", "물 이 안 나 와 요"]) == 1
    with pytest.raises(ValueError):
        closest("x", [])


def test_folder_is_scored_against_its_references(model, speech_dir, tmp_path):
    """Each NAME.wav with a NAME.txt is scored; a WAV without one is listed as skipped; the
    corpus CER is all edits over all reference characters."""
    clip = say("쓰레기 좀 치워 주세요", speech_dir)
    (tmp_path / "one.wav").write_bytes(clip.read_bytes())
    (tmp_path / "one.txt").write_text("쓰레기 좀 치워 주세요\n", "utf-8")
    (tmp_path / "stray.wav").write_bytes(clip.read_bytes())
    result = evaluate_dir(tmp_path, lambda p: decode_file(model, p).text)
    assert [f.name for f in result.files] == ["one.wav"] and result.skipped == ("stray.wav",)
    only = result.files[0]
    assert only.ref_chars == 9 and only.hypothesis
    assert result.cer == pytest.approx(only.edits / 9)
    assert result.cer == pytest.approx(cer(only.reference, only.hypothesis))


def test_folder_without_references_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no NAME.wav with a NAME.txt"):
        evaluate_dir(tmp_path, lambda p: "")
