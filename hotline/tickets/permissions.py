# -*- test-case-name: tests.tickets.test_actions -*-
"""Who may take which step of a ticket's life: roles per action, and a liaison's department.

One table (``ACTION_ROLES``) that the HTTP routes, the pages and the command line all read; the
department scope and the ticket's status are checked on the ticket itself (``refusal``).
"""

from __future__ import annotations

from typing import Any

from hotline.tickets.service import allowed_from
from hotline.web.roles import DESK, DISPATCH, LIAISON, SUPERVISION, TICKET_READERS, Role

__all__ = ["ACTION_ROLES", "ACTION_LABELS", "refusal", "may_read", "actions_for"]

#: Departments' side: the liaison of the lead department, or a supervisor/admin for it.
_HANDLERS = LIAISON

#: action → roles that may take it (a liaison only for their own department's tickets).
ACTION_ROLES: dict[str, frozenset[str]] = {
    "dispatch": DISPATCH,                           # 派单
    "accept": _HANDLERS,                            # 签收
    "return": _HANDLERS,                            # 退单
    "extend": _HANDLERS,                            # 延期申请
    "decide_extension": SUPERVISION,                # 延期审批
    "contact": _HANDLERS,                           # 首次联系
    # An agent answers a ticket on the spot (no department); a department its own.
    "reply": _HANDLERS | {Role.AGENT},              # 回复
    "attach": _HANDLERS | {Role.AGENT},             # 上传附件
    "follow_up": DESK,                              # 回访
    "close": DESK,                                  # 办结
    "reopen": DESK,                                 # 重办
    "edit": DESK | {Role.DISPATCHER},               # 更正
}

ACTION_LABELS = {"dispatch": "派单", "accept": "签收", "return": "退单", "extend": "延期申请",
                 "decide_extension": "延期审批", "contact": "已联系市民", "reply": "回复",
                 "attach": "上传附件", "follow_up": "回访", "close": "办结", "reopen": "重办",
                 "edit": "更正"}

#: Actions a department takes on its own tickets only.
_DEPARTMENT_ACTIONS = frozenset({"accept", "return", "extend", "contact", "reply", "attach"})


def may_read(user: Any, ticket: Any) -> bool:
    """Whether ``user`` may see ``ticket``: a liaison their department's (lead or co-handling)
    tickets, every other role all of them."""
    if user.role not in TICKET_READERS:
        return False
    if user.role != Role.LIAISON:
        return True
    if user.department_id is None:
        return False
    return ticket.department_id == user.department_id or any(
        d.id == user.department_id for d in ticket.co_departments)


def refusal(user: Any, action: str, ticket: Any) -> str | None:
    """Why ``user`` may not take ``action`` on ``ticket`` now (None: they may). Role and
    department only; the status is the service's check (``IllegalTransition``)."""
    roles = ACTION_ROLES[action]
    if user.role not in roles:
        return f"the role {user.role!r} may not {action.replace('_', ' ')} (无权{ACTION_LABELS[action]})"
    if action in _DEPARTMENT_ACTIONS:
        if user.role == Role.LIAISON and (user.department_id is None
                                          or ticket.department_id != user.department_id):
            return "only the lead department's liaison may do this (仅主办部门可操作)"
        if user.role == Role.AGENT and ticket.department_id is not None:
            return "this ticket is with a department: its liaison replies (已派单的工单由部门回复)"
    return None


def actions_for(user: Any, ticket: Any) -> list[str]:
    """The actions the pages offer ``user`` on ``ticket``: allowed by role, department and
    the ticket's status (a reply is offered on a dispatched ticket: it takes it up first)."""
    out = []
    for action in ACTION_ROLES:
        if action == "attach":
            statuses = allowed_from("reply") | {"dispatched"}
        elif action == "reply":
            statuses = allowed_from("reply") | {"dispatched"}
        else:
            statuses = allowed_from(action)
        if ticket.status in statuses and refusal(user, action, ticket) is None:
            out.append(action)
    return out
