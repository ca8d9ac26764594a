# -*- test-case-name: tests.civic.test_projects -*-
"""The organisations (companies, social organisations, donors) that claim proposals and apply
with projects of their own, and the console accounts acting for each."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CivicMember, CivicOrganisation, ConsoleUser
from hotline.civic import demands
from hotline.civic.exceptions import NoSuchThing
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import audit
from hotline.web.roles import CIVIC_READERS, CIVIC_STAFF, Role

__all__ = ["listing", "add", "add_member", "of_user", "own"]

_CODE = re.compile(r"^[A-Za-z0-9_-]{2,32}$")


def _dict(org: CivicOrganisation, members: list[str]) -> dict[str, Any]:
    return {"id": org.id, "code": org.code, "name": org.name, "members": members}


def _members(session: Session, org_id: int) -> list[str]:
    return list(session.scalars(select(ConsoleUser.username).join(
        CivicMember, CivicMember.user_id == ConsoleUser.id)
        .where(CivicMember.organisation_id == org_id).order_by(ConsoleUser.username)))


def listing(session: Session, service: TicketService, user: Any) -> list[dict[str, Any]]:
    """Every organisation and its accounts."""
    if user.role not in CIVIC_READERS:
        raise NotAllowed("your role may not see organisations")
    orgs = session.scalars(select(CivicOrganisation).order_by(CivicOrganisation.code))
    return [_dict(o, _members(session, o.id)) for o in orgs]


def _by_code(session: Session, code: str | None) -> CivicOrganisation:
    org = session.scalars(select(CivicOrganisation).where(
        CivicOrganisation.code == (code or ""))).first()
    if org is None:
        raise NoSuchThing("organisation", (code or "")[:32])
    return org


def add(session: Session, service: TicketService, user: Any, body: Any, *,
        ip: str | None) -> dict[str, Any]:
    """Register an organisation (``code``, ``name``)."""
    if user.role not in CIVIC_STAFF:
        raise NotAllowed("only the district's staff register organisations")
    fields = demands.public_fields(body, {"code": (32, True), "name": (100, True)})
    if not _CODE.match(fields["code"] or ""):
        raise InvalidRequest({"code": "2-32 letters, digits, _ or -"})
    if session.scalars(select(CivicOrganisation).where(
            CivicOrganisation.code == fields["code"])).first():
        raise InvalidRequest({"code": f"an organisation {fields['code']} already exists"})
    org = CivicOrganisation(code=fields["code"], name=fields["name"], created_at=service.clock())
    session.add(org)
    session.flush()
    audit.record(session, actor=user.username, role=user.role, action="civic.organisation.add",
                 target=org.code, ip=ip, details={"name": org.name})
    return _dict(org, [])


def add_member(session: Session, service: TicketService, user: Any, code: str, body: Any, *,
               ip: str | None) -> dict[str, Any]:
    """Let the console account ``username`` (role organisation) act for the organisation."""
    if user.role not in CIVIC_STAFF:
        raise NotAllowed("only the district's staff manage organisations")
    fields = demands.public_fields(body, {"username": (50, True)})
    org = _by_code(session, code)
    account = session.scalars(select(ConsoleUser).where(
        ConsoleUser.username == (fields["username"] or "").lower())).first()
    if account is None:
        raise InvalidRequest({"username": "no such console account"})
    if account.role != Role.ORGANISATION:
        raise InvalidRequest({"username": "only an account of role organisation (社会组织)"})
    if session.get(CivicMember, account.id) is not None:
        raise InvalidRequest({"username": "the account already acts for an organisation"})
    session.add(CivicMember(user_id=account.id, organisation_id=org.id))
    session.flush()
    audit.record(session, actor=user.username, role=user.role,
                 action="civic.organisation.member", target=org.code, ip=ip,
                 details={"username": account.username})
    return _dict(org, _members(session, org.id))


def of_user(session: Session, user: Any) -> CivicOrganisation | None:
    """The organisation ``user`` acts for, if any."""
    member = session.get(CivicMember, user.user_id)
    return member.organisation if member else None


def own(session: Session, user: Any) -> CivicOrganisation:
    """The organisation an organisation account acts for; NotAllowed for anyone else."""
    org = of_user(session, user) if user.role == Role.ORGANISATION else None
    if org is None:
        raise NotAllowed("only an organisation's account (社会组织) may do this")
    return org
