"""Fixtures of the civic console tests: the console tests' console (no PBX link) with two
organisations (an account each, a second account for HOPE), a leader, and the courtyard's
three tickets."""

from __future__ import annotations

import pytest

from hotline.web import accounts
from tests.civic.support import courtyard_tickets, organisation
from tests.web.conftest import PASSWORDS, console  # noqa: F401 - the fixture, reused

#: username → (role, password); boss (supervisor) comes with ``console``.
CIVIC_USERS = {"boss": ("supervisor", PASSWORDS["boss"]),
               "chief": ("leader", "chief-pass-0001"),
               "acme": ("organisation", "acme-pass-0001"),
               "hope": ("organisation", "hope-pass-0001"),
               "hope2": ("organisation", "hope2-pass-001")}


@pytest.fixture
def civic_console(console, db):  # noqa: F811 - ``console`` is the imported fixture
    """The console with the organisations, their accounts, a leader; returns (console, the
    courtyard's ticket numbers)."""
    with db.begin() as s:
        for name in ("chief", "acme", "hope", "hope2"):
            role, password = CIVIC_USERS[name]
            accounts.create_user(s, name, role=role, password=password)
        organisation(s, "ACME", "爱心建设公司", "acme")
        organisation(s, "HOPE", "希望公益", "hope")
        from sqlalchemy import select

        from db.models import CivicMember, CivicOrganisation, ConsoleUser

        hope = s.scalars(select(CivicOrganisation).where(CivicOrganisation.code == "HOPE")).one()
        user = s.scalars(select(ConsoleUser).where(ConsoleUser.username == "hope2")).one()
        s.add(CivicMember(user_id=user.id, organisation_id=hope.id))
        numbers = courtyard_tickets(s, promised=True)
    return console, numbers
