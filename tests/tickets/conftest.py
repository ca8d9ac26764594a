"""Fixtures of the ticket-life console tests: a console without a PBX over a fresh database,
with two departments and one account per role."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor

from db.models import Department
from hotline.web import accounts
from tests.web.conftest import web_config

#: username → (role, department, agent seat, password)
LIFE_USERS = {
    "agent1": ("agent", None, "1001", "agent-pass-1001"),
    "disp": ("dispatcher", None, None, "disp-pass-0001"),
    "boss": ("supervisor", None, None, "boss-pass-0001"),
    "water": ("liaison", "W01", None, "water-pass-001"),
    "power": ("liaison", "P01", None, "power-pass-001"),
}


def add_life_users(db) -> None:
    with db.begin() as s:
        s.add_all([Department(code="W01", name="区水务局"), Department(code="P01", name="供电公司")])
        s.flush()
        for name, (role, dept, seat, password) in LIFE_USERS.items():
            accounts.create_user(s, name, role=role, password=password, department=dept,
                                 agent_code=seat)


@pytest_twisted.async_yield_fixture
async def life_console(db, tmp_path):
    """A started console (no PBX link, no scheduler) with the ticket-life users."""
    from hotline.web.app import WebConsole

    add_life_users(db)
    web = WebConsole(config=web_config(tmp_path), db=db, reactor=reactor)
    await web.start()
    try:
        yield web
    finally:
        await web.stop()
