"""Domain errors of the ticket service, each with its HTTP meaning for the web layer.

Like wazo-calld's, every error carries a stable ``error_id``, a ``details`` dict and a
``status_code``, so the web console renders them all one way and the command line prints
``str(error)``. Raising one means nothing was changed by the call that raised it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TicketError", "InvalidIntake", "NoSuchTicket", "NoSuchDepartment", "NoSuchGrid",
           "NoSuchIncident", "IllegalTransition", "IncidentMismatch"]


class TicketError(Exception):
    """Base of the ticket service's errors."""

    status_code: int = 400
    error_id: str = "ticket-error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the JSON API returns it."""
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


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
