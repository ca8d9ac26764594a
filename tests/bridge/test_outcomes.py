"""Naming a department leg's failure from what Asterisk reports, and room names."""

from __future__ import annotations

import doctest

import pytest

from hotline.bridge import outcomes, rooms
from hotline.bridge.outcomes import outcome_of


@pytest.mark.parametrize("cause, reason, rang, expected", [
    (17, 5, False, "busy"),           # Busy() on the far side: 486
    (34, 8, False, "congestion"),     # Congestion(): 503
    (3, 0, False, "unreachable"),     # Hangup(3): no route to destination
    (None, 0, False, "unreachable"),  # no channel at all
    (None, 3, True, "no_answer"),     # rang until our timeout
    (16, 1, True, "no_answer"),       # rang, then released normally before an answer
    (None, 5, False, "busy"),         # only the Originate's reason
    (99, 2, False, "failed"),         # something else entirely
])
def test_outcome_of(cause, reason, rang, expected):
    """The hangup cause wins over the Originate reason; a leg that rang is no answer."""
    assert outcome_of(cause=cause, reason=reason, rang=rang) == expected


def test_every_failure_has_a_notice_and_a_text():
    """The room hears something for each failure, and the console can say it in Chinese."""
    for outcome in outcomes.FAILURES:
        assert outcome in outcomes.NOTICE_PROMPT and outcome in outcomes.REASON_TEXT


def test_room_names_are_distinct_and_dialplan_safe():
    """Rooms of one call never share a name, and match the dialplan's ``_hb.`` pattern."""
    names = {rooms.room_name(7) for _ in range(500)}
    assert len(names) == 500
    assert all(n.startswith("hb7-") and n.replace("-", "").isalnum() for n in names)


def test_doctests():
    """The examples in the docstrings hold."""
    for module in (outcomes, rooms):
        assert doctest.testmod(module).failed == 0
