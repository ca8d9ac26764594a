# -*- test-case-name: tests.web.test_auth -*-
"""Who may do what in the console: the roles and the pages and calls each may reach."""

from __future__ import annotations

import enum

__all__ = ["Role", "ROLE_LABELS", "DESK", "SUPERVISION", "ADMIN", "LIAISON", "TICKET_READERS",
           "REPLIERS", "DISPATCH", "GRID_WORKERS", "VERIFY_SENDERS", "MAP_READERS",
           "LEADERSHIP", "WARNING_HANDLERS", "ORGANISATIONS", "CIVIC_STAFF", "REVIEWERS",
           "CIVIC_READERS", "ALL_ROLES", "home_page", "parse_role"]


class Role(enum.StrEnum):
    """A console account's role; stored as its value on ``ConsoleUser.role``."""

    AGENT = "agent"            # 坐席: takes calls, files tickets
    SUPERVISOR = "supervisor"  # 班长: watches the floor, reads the audit log
    ADMIN = "admin"            # 管理员: everything, accounts
    LIAISON = "liaison"        # 联络员: one partner department's dispatched tickets, masked numbers
    DISPATCHER = "dispatcher"  # 派单员: sends received and returned tickets to departments
    GRID_WORKER = "grid_worker"  # 网格员: one level-1 grid and its sub-grids, from a phone
    LEADER = "leader"          # 区领导: reads indices, early warnings and the daily report
    ORGANISATION = "organisation"  # 社会组织: claims project proposals, applies for subsidy


ROLE_LABELS: dict[str, str] = {Role.AGENT: "坐席", Role.SUPERVISOR: "班长",
                               Role.ADMIN: "管理员", Role.LIAISON: "部门联络员",
                               Role.GRID_WORKER: "网格员", Role.DISPATCHER: "派单员",
                               Role.LEADER: "区领导", Role.ORGANISATION: "社会组织"}

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
#: The grid worker's phone page and calls (reports, visits, tasks, daily log).
GRID_WORKERS = frozenset({Role.GRID_WORKER})
#: Sending a ticket to the grid worker of its grid to verify on site (核实): the dispatchers.
VERIFY_SENDERS = DISPATCH
#: Reading the map hierarchy (streets → sub-grids) and placing a point or an address.
MAP_READERS = DESK | {Role.LIAISON, Role.GRID_WORKER, Role.DISPATCHER}
#: The leader's pages: dimension indices, early warnings, the daily report inbox (read-only
#: for leaders; supervisors also turn warnings into proactive tasks).
LEADERSHIP = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN})
#: Acting on an early warning (turning it into a proactive task, dismissing it).
WARNING_HANDLERS = SUPERVISION
#: An organisation's account (a company, social organisation or donor; hotline.civic).
ORGANISATIONS = frozenset({Role.ORGANISATION})
#: Who opens council topics and project proposals and decides applications (the supervisors
#: act as the district's community staff; no separate role yet).
CIVIC_STAFF = SUPERVISION
#: Who scores applications (联合评审): staff, leaders and other organisations' accounts.
REVIEWERS = SUPERVISION | {Role.LEADER, Role.ORGANISATION}
#: Who sees the console's civic pages (topics, proposals, applications).
CIVIC_READERS = SUPERVISION | {Role.LEADER, Role.ORGANISATION, Role.DISPATCHER}
ALL_ROLES = frozenset(Role)


def home_page(role: str) -> str:
    """Where a user of ``role`` lands after signing in."""
    return {Role.LIAISON: "/liaison", Role.GRID_WORKER: "/grid/",
            Role.DISPATCHER: "/dispatch", Role.LEADER: "/leader",
            Role.ORGANISATION: "/civic"}.get(role, "/desk")


def parse_role(text: str) -> Role:
    """The role named ``text``; raises ValueError listing the roles there are."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r} (one of {', '.join(r.value for r in Role)})") \
            from None
