"""Sample demands and accounts the civic tests share: a neglected courtyard reported by three
citizens (names, phones and addresses the public pages must never show)."""

from __future__ import annotations

from typing import Any

from db.models import CivicMember, CivicOrganisation, ConsoleUser
from hotline.tickets.actions import principal_of
from hotline.tickets.service import TicketService

#: (phone, name, address) of the three citizens behind the courtyard's tickets.
CITIZENS = [("13811112222", "张建国", "幸福里小区3号楼"),
            ("13933334444", "李秀英", "幸福里小区5号楼"),
            ("13755556666", "王小明", "幸福里小区7号楼")]


def courtyard_tickets(session: Any, *, promised: bool = False) -> list[str]:
    """Three tickets about the abandoned courtyard, one per citizen; their numbers. The first
    came through the residents' council channel (with a timed reply when ``promised``), the
    third is already replied (so each path of telling the outcome is taken)."""
    import datetime as dt

    service = TicketService()
    numbers = []
    for i, (number, name, address) in enumerate(CITIZENS):
        payload = {"channel": "residents_council" if i == 0 else "hotline",
                   "kind": "suggestion", "category": "小区环境", "phone": number,
                   "citizen_name": name, "address": address,
                   "description": f"{address}旁的废弃院落杂物堆积，请求整治"}
        t = service.intake(session, payload, actor="agent1")
        numbers.append(t.number)
        if promised and i == 0:
            service.set_promised_reply(session, t.id,
                                       service.clock() + dt.timedelta(days=3), actor="agent1")
        if i == 2:
            service.reply(session, t.id, actor="agent1", text="已记录，将提交社区")
    return numbers


def organisation(session: Any, code: str, name: str, username: str) -> None:
    """An organisation with one account acting for it (the account must exist)."""
    from sqlalchemy import select

    org = CivicOrganisation(code=code, name=name)
    session.add(org)
    session.flush()
    user = session.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).one()
    session.add(CivicMember(user_id=user.id, organisation_id=org.id))
    session.flush()


def as_user(session: Any, username: str) -> Any:
    """The console account as a request's user."""
    return principal_of(session, username)
