"""Fixtures of the ticket-life console tests: the console tests' console (no PBX link, a fresh
database, an agent, a supervisor and an admin) with two departments, a dispatcher and a
liaison for each department added."""

from __future__ import annotations

import pytest

from db.models import Department
from hotline.web import accounts
from tests.web.conftest import PASSWORDS, console  # noqa: F401 - the fixture, reused

#: username → (role, department, agent seat, password); agent1 and boss come with ``console``.
LIFE_USERS = {
    "agent1": ("agent", None, "1001", PASSWORDS["agent1"]),
    "boss": ("supervisor", None, None, PASSWORDS["boss"]),
    "disp": ("dispatcher", None, None, "disp-pass-0001"),
    "water": ("liaison", "W01", None, "water-pass-001"),
    "power": ("liaison", "P01", None, "power-pass-001"),
}


@pytest.fixture
def life_console(console, db):  # noqa: F811 - ``console`` is the imported fixture
    """The console with the ticket-life departments and accounts."""
    with db.begin() as s:
        s.add_all([Department(code="W01", name="区水务局"), Department(code="P01", name="供电公司")])
        s.flush()
        for name in ("disp", "water", "power"):
            role, dept, seat, password = LIFE_USERS[name]
            accounts.create_user(s, name, role=role, password=password, department=dept,
                                 agent_code=seat)
    return console
