"""Fixtures of the indices tests: a console over a small district with sample history."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest_twisted
from twisted.internet import reactor

from hotline import config as config_mod
from hotline.indices.history import Spike, generate_history
from hotline.plugins import web_console
from hotline.web import accounts
from tests.indices.seed import TZ, small_district
from tests.web.conftest import add_users

__all__ = ["LEADER", "leader_console"]

LEADER = ("chief", "chief-pass-0001")


@pytest_twisted.async_yield_fixture
async def leader_console(db, tmp_path):
    """A console (no PBX) whose refresh job is off (the tests refresh through the API), with
    a small district holding 35 days of sample history and a spike yesterday in G003 供水."""
    add_users(db)
    today = dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date()
    yesterday = today - dt.timedelta(days=1)
    with db.begin() as s:
        accounts.create_user(s, LEADER[0], role="leader", password=LEADER[1],
                             display_name="区领导")
        small_district(s)
        generate_history(s, first_day=today - dt.timedelta(days=35), days=35, per_day=40,
                         timezone=TZ, now=dt.datetime.now(dt.UTC), citizens=150,
                         spikes=[Spike(yesterday, "G003", "供水", 12)])
    config = config_mod.loads("", source="tests").with_overrides(
        {"site": {"state_dir": str(tmp_path)}, "web": {"port": 0},
         "indices": {"refresh_s": 0.0}})
    web = web_console(config=config, db=db, reactor=reactor)
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


