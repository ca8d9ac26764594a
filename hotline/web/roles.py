# -*- test-case-name: tests.web.test_auth -*-
"""Who may do what in the console: five roles and the pages and calls each may reach."""

from __future__ import annotations

import enum

__all__ = ["Role", "ROLE_LABELS", "DESK", "SUPERVISION", "ADMIN", "LIAISON", "TICKET_READERS",
           "REPLIERS", "DISPATCH", "parse_role"]


class Role(enum.StrEnum):
    """A console account's role; stored as its value on ``ConsoleUser.role``."""

    AGENT = "agent"            # 坐席: takes calls, files tickets
    SUPERVISOR = "supervisor"  # 班长: watches the floor, reads the audit log
    ADMIN = "admin"            # 管理员: everything, accounts
    LIAISON = "liaison"        # 联络员: one partner department's dispatched tickets, masked numbers
    DISPATCHER = "dispatcher"  # 派单员: sends received and returned tickets to departments


ROLE_LABELS: dict[str, str] = {Role.AGENT: "坐席", Role.SUPERVISOR: "班长",
                               Role.ADMIN: "管理员", Role.LIAISON: "部门联络员",
                               Role.DISPATCHER: "派单员"}

#: The agent desk: taking calls and filing tickets.
DESK = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
#: The floor view and the audit log.
SUPERVISION = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
#: The department view (a liaison sees their own department only).
LIAISON = frozenset({Role.LIAISON, Role.SUPERVISOR, Role.ADMIN})
#: The dispatcher's queue (supervisors may also dispatch).
DISPATCH = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
#: Reading tickets over the API (a liaison: their department's, numbers masked).
TICKET_READERS = DESK | {Role.LIAISON, Role.DISPATCHER}
#: Recording a department's answer to a ticket.
REPLIERS = LIAISON


def parse_role(text: str) -> Role:
    """The role named ``text``; raises ValueError listing the roles there are."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r} (one of {', '.join(r.value for r in Role)})") \
            from None
