"""Tests for L{hotline.naming}: every name is read back as it was made."""

from __future__ import annotations

import doctest

from hotline import naming


def test_the_doctests_hold():
    """The examples in the module's docstrings are what the functions return."""
    failures, tried = doctest.testmod(naming)
    assert tried > 5 and failures == 0


def test_made_names_parse_back():
    """An interface gives back its seat, an attempt key its parts, a room its kind."""
    assert naming.agent_code(naming.agent_interface("1042")) == "1042"
    assert naming.agent_code_of_channel(naming.agent_interface("1042") + "-0000001f") == "1042"
    assert naming.parse_attempt_key(naming.attempt_key(12, 3)) == ("cb", 12, 3)
    assert naming.parse_attempt_key(naming.survey_key(7, 1)) == ("sv", 7, 1)
    assert naming.parse_attempt_key("cb-x-1") is None
    room = naming.room_name(42)
    assert naming.is_room(room) and naming.is_room_leg(f"{room}-d1")
