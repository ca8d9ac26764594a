"""Tests for L{hotline.grid.schemas}: what a phone sends is checked field by field, every
problem named at once."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.grid.exceptions import InvalidInput
from hotline.grid.schemas import (
    AreaLevel,
    load_answer,
    load_log,
    load_report,
    load_visit,
)

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)


def _problems(fn, payload, **kw) -> set[str]:
    with pytest.raises(InvalidInput) as caught:
        fn(payload, **kw)
    return set(caught.value.problems)


def test_levels_know_their_neighbours() -> None:
    """street → community → grid → sub_grid, each knowing the one above and below."""
    assert [lv.parent for lv in AreaLevel] == [None, "street", "community", "grid"]
    assert [lv.child for lv in AreaLevel] == ["community", "grid", "sub_grid", None]


def test_report_needs_a_position_and_a_sane_time() -> None:
    """No position and no address, a time in the future or a month old, a bad key: each named."""
    assert _problems(load_report, {"key": "short", "category": "x", "description": "y",
                                   "made_at": (NOW + dt.timedelta(hours=1)).isoformat()},
                     now=NOW) == {"key", "made_at", "latitude"}
    with pytest.raises(InvalidInput, match="days ago"):
        load_report({"key": "k" * 10, "category": "x", "description": "y", "address": "a",
                     "made_at": (NOW - dt.timedelta(days=30)).isoformat()}, now=NOW)
    assert _problems(load_report, {"key": "k" * 10, "category": "x", "description": "y",
                                   "latitude": "north", "longitude": 200}, now=NOW) == \
        {"latitude", "longitude"}


def test_report_defaults() -> None:
    """A report without a time was made now; its kind defaults to help (求助); a time in UTC
    written with Z is understood."""
    report = load_report({"key": "k" * 10, "category": "市容环境", "description": " 垃圾 ",
                          "latitude": "30.2", "longitude": "120.1"}, now=NOW)
    assert (report.made_at, report.kind, report.description) == (NOW, "help", "垃圾")
    zulu = load_report({"key": "k" * 10, "category": "x", "description": "y", "address": "a",
                        "made_at": "2026-11-26T01:00:00Z"}, now=NOW)
    assert zulu.made_at == NOW - dt.timedelta(hours=1)


def test_visits_answers_and_logs_name_each_bad_field() -> None:
    """A visit with an unknown subject and no notes, an answer with an unknown result, a log
    without text or with a day that is not a date: every field named."""
    assert _problems(load_visit, {"key": "k" * 10, "subject": "dog", "visitee": "3栋"},
                     now=NOW) == {"subject", "notes"}
    assert _problems(load_answer, {"key": "k" * 10, "result": "maybe", "answer": "x"}) == \
        {"result"}
    assert _problems(load_log, {"text": "", "day": "26/11"}) == {"text", "day"}
    assert load_log({"text": "巡查"}).day is None
