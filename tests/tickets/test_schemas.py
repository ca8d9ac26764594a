"""Validation of intake payloads and the channel registry."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.tickets.exceptions import InvalidIntake
from hotline.tickets.schemas import (
    CHANNELS,
    BadPromise,
    TicketKind,
    load_intake,
    promised_reply_time,
    register_channel,
)


def test_the_districts_twelve_channels_are_registered():
    """The 83658365 line, 12345, both opinion sites, deputies, web, WeChat, grid workers,
    residents' councils, service windows, walk-ins and proactive tasks from early warnings
    are all known."""
    assert set(CHANNELS) == {"hotline", "sub_12345", "provincial_site", "city_site",
                             "deputies_office", "web", "wechat", "grid_worker",
                             "residents_council", "service_window", "walk_in", "proactive"}


def test_register_channel_extends_and_refuses_duplicates():
    """A new channel can be added once; the same code twice is refused."""
    try:
        register_channel("hotline_app", "App")
        assert load_intake({"channel": "hotline_app", "kind": "help",
                            "description": "x"}).channel == "hotline_app"
        with pytest.raises(ValueError):
            register_channel("hotline_app", "again")
    finally:
        CHANNELS.pop("hotline_app", None)


def test_valid_payload_is_normalised():
    """Phone is normalised, the kind becomes an enum and the promise time UTC."""
    request = load_intake({"channel": "hotline", "kind": "complaint", "phone": "+86 138 1234 0000",
                           "description": "  噪音扰民 ", "promised_reply_at":
                           "2026-11-27T17:00+08:00"})
    assert request.phone == "13812340000"
    assert request.kind is TicketKind.COMPLAINT
    assert request.description == "噪音扰民"
    assert request.promised_reply_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def test_every_problem_is_reported_at_once():
    """A payload with several mistakes names each bad field with a readable reason."""
    with pytest.raises(InvalidIntake) as caught:
        load_intake({"channel": "fax", "kind": "rant", "phone": "12ab",
                     "promised_reply_at": "2026-11-27T17:00", "colour": "red"})
    problems = caught.value.problems
    assert set(problems) == {"channel", "kind", "phone", "description", "promised_reply_at",
                             "colour"}
    assert "known:" in problems["channel"]
    assert "time zone" in problems["promised_reply_at"]
    assert caught.value.status_code == 400
    assert caught.value.to_dict()["error_id"] == "invalid-intake"


def test_a_promised_reply_time_is_checked_in_one_place():
    """A promised reply time must be a time, carry a zone (or be typed where the site's zone is
    implied) and lie in the future; it comes back in UTC."""
    import zoneinfo

    now = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert promised_reply_time("2026-11-26T13:00+08:00", now=now) == \
        dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
    assert promised_reply_time("2026-11-26T13:00", now=now, zone=shanghai) == \
        dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
    assert promised_reply_time(dt.datetime(2026, 11, 26, 13, 0), now=now, zone=shanghai) == \
        dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
    with pytest.raises(BadPromise, match="time zone"):
        promised_reply_time("2026-11-26T13:00", now=now)
    with pytest.raises(BadPromise, match="in the past"):
        promised_reply_time("2026-11-26T11:00", now=now, zone=shanghai)
    with pytest.raises(BadPromise, match="in the past"):
        promised_reply_time(now, now=now)
    with pytest.raises(BadPromise, match="not an ISO time"):
        promised_reply_time("tomorrow", now=now, zone=shanghai)
    with pytest.raises(BadPromise, match="ISO 8601"):
        promised_reply_time("tomorrow", now=now)
