"""Keyword suggestion from the directory's terms: found across the decoder's word splits,
best entry by score, deterministic on ties, nothing when nothing matches."""

from __future__ import annotations

from hotline.directory.index import DirectoryEntry, pinyin_initials
from hotline.stt.keywords import KeywordSpotter


def _entry(i: int, name: str, dept: str, categories: tuple[str, ...],
           keywords: tuple[str, ...]) -> DirectoryEntry:
    return DirectoryEntry(id=i, name=name, department_code=dept, department_name=dept + "局",
                          number=f"9990{i:04d}", fallback_numbers=(), categories=categories,
                          keywords=keywords, service_hours="24/7", notes=None,
                          pinyin_initials=pinyin_initials(name))


ENTRIES = [
    _entry(1, "区自来水公司", "U01", ("供水",), ("停水", "水压", "爆管")),
    _entry(2, "区供电公司", "U02", ("供电",), ("停电", "跳闸")),
    _entry(3, "区城管执法局", "D07", ("市容",), ("垃圾", "占道")),
    _entry(4, "区环卫中心", "D08", ("市容",), ("垃圾", "清运")),
]


def test_keyword_found_across_the_decoders_word_split():
    """"停 水 了" (a decoder's split) still matches the keyword 停水."""
    s = KeywordSpotter(ENTRIES).suggest("我 家 停 水 了 水压 也 低")
    assert (s.hotline_id, s.department_code, s.category) == (1, "U01", "供水")
    assert s.matched == ("停水", "水压") and s.source == "text"
    assert s.as_dict()["applied"] is False
    assert s.describe().startswith("Suggestion (not applied")


def test_more_terms_win_and_ties_go_to_the_first_name():
    """垃圾 and 清运 beat 垃圾 alone; with 垃圾 alone the two entries tie and the first name wins,
    every time."""
    spotter = KeywordSpotter(ENTRIES)
    assert spotter.suggest("楼下 垃圾 没人 清运").hotline_id == 4
    tie = {spotter.suggest("楼下 的 垃圾").hotline_id for _ in range(3)}
    assert tie == {min(ENTRIES[2:], key=lambda e: e.name).id}


def test_category_alone_suggests_with_lower_score():
    s = KeywordSpotter(ENTRIES).suggest("关于 供电 的 问题")
    assert s.hotline_id == 2 and s.score == 1.0 and s.matched == ("供电",)


def test_no_term_no_suggestion():
    spotter = KeywordSpotter(ENTRIES)
    assert spotter.suggest("你好 谢谢") is None
    assert spotter.suggest("") is None


def test_grammar_lists_each_term_once():
    assert KeywordSpotter(ENTRIES).grammar() == ["停水", "水压", "爆管", "供水", "停电", "跳闸",
                                                  "供电", "垃圾", "占道", "市容", "清运"]
