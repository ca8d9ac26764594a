"""Domain errors of the ticket service, each with its HTTP meaning for the web layer.

Like wazo-calld's, every error carries a stable ``error_id``, a ``details`` dict and a
``status_code``, so the web console renders them all one way and the command line prints
``str(error)``. Raising one means nothing was changed by the call that raised it.
"""

from __future__ import annotations

from typing import Any

from hotline.errors import DomainError

__all__ = ["TicketError", "InvalidIntake", "NoSuchTicket", "NoSuchDepartment", "NoSuchGrid",
           "NoSuchIncident", "IllegalTransition", "IncidentMismatch", "InvalidRequest",
           "TicketChanged", "NotAllowed", "NoSuchExtension", "NoSuchAttachment",
           "AttachmentRefused"]


class TicketError(DomainError):
    """Base of the ticket service's errors."""

    status_code: int = 400
    error_id: str = "ticket-error"


class InvalidIntake(TicketError):
    """An intake payload failed validation; ``details`` maps each bad field to why."""

    status_code = 400
    error_id = "invalid-intake"

    def __init__(self, problems: dict[str, str]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(f"invalid ticket: {text}", {"fields": problems})
        self.problems = problems


class NoSuchTicket(TicketError):
    status_code = 404
    error_id = "no-such-ticket"

    def __init__(self, ticket: int | str) -> None:
        super().__init__(f"no ticket {ticket}", {"ticket": ticket})


class NoSuchDepartment(TicketError):
    status_code = 400
    error_id = "no-such-department"

    def __init__(self, department: str) -> None:
        super().__init__(f"no department with code {department!r}", {"department": department})


class NoSuchGrid(TicketError):
    status_code = 400
    error_id = "no-such-grid"

    def __init__(self, grid: str) -> None:
        super().__init__(f"no grid with code {grid!r}", {"grid": grid})


class NoSuchIncident(TicketError):
    status_code = 404
    error_id = "no-such-incident"

    def __init__(self, incident: int) -> None:
        super().__init__(f"no incident {incident}", {"incident": incident})


class IllegalTransition(TicketError):
    """The action is not allowed from the ticket's current status (e.g. closing an unanswered
    ticket); ``details`` names the ticket(s), the action and the statuses it is allowed from."""

    status_code = 409
    error_id = "illegal-transition"

    def __init__(self, action: str, tickets: dict[str, str], allowed_from: list[str]) -> None:
        listed = ", ".join(f"{number} is {status}" for number, status in tickets.items())
        super().__init__(
            f"cannot {action.replace('_', ' ')}: {listed}; allowed only from "
            f"{', '.join(allowed_from)}",
            {"action": action, "tickets": tickets, "allowed_from": allowed_from})


class IncidentMismatch(TicketError):
    """The tickets given cannot form one incident (different kind, already grouped, closed...)."""

    status_code = 409
    error_id = "incident-mismatch"


class InvalidRequest(TicketError):
    """A lifecycle request is missing or has a bad field (an empty reason, a negative number of
    days...); ``details["fields"]`` maps each bad field to why."""

    status_code = 400
    error_id = "invalid-request"

    def __init__(self, problems: dict[str, str]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(f"invalid request: {text}", {"fields": problems})
        self.problems = problems


class TicketChanged(TicketError):
    """Someone else changed the ticket since the caller read it (optimistic concurrency): the
    caller's version is stale. ``details["ticket"]`` is the ticket as it is now, so the page
    can show what changed; nothing of the caller's request was applied."""

    status_code = 409
    error_id = "ticket-changed"

    def __init__(self, number: str, expected: int, current: dict[str, Any]) -> None:
        super().__init__(
            f"工单 {number} 已被他人修改，请查看最新状态后重试 (ticket {number} changed: you had "
            f"version {expected}, it is now version {current.get('version')})",
            {"expected_version": expected, "ticket": current})


class NotAllowed(TicketError):
    """The user's role (or department) may not take this action on this ticket."""

    status_code = 403
    error_id = "forbidden"


class NoSuchExtension(TicketError):
    status_code = 404
    error_id = "no-such-extension"

    def __init__(self, extension: int) -> None:
        super().__init__(f"no extension request {extension}", {"extension": extension})


class NoSuchAttachment(TicketError):
    status_code = 404
    error_id = "no-such-attachment"

    def __init__(self, attachment: int) -> None:
        super().__init__(f"no attachment {attachment}", {"attachment": attachment})


class AttachmentRefused(TicketError):
    """A file that cannot be attached: too large (413), or of a type not accepted (415)."""

    error_id = "attachment-refused"

    def __init__(self, message: str, *, status: int, details: dict[str, Any]) -> None:
        super().__init__(message, details)
        self.status_code = status
