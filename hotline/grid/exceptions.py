# -*- test-case-name: tests.grid.test_service -*-
"""Domain errors of the map and the grid workers, each with its HTTP meaning.

Like the ticket service's, every error carries a stable ``error_id``, a ``details`` dict and a
``status_code``; raising one means nothing was changed by the call that raised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.errors import DomainError

__all__ = ["GridError", "MapRefused", "MapProblem", "InvalidInput", "NoSuchArea",
           "NotAGridWorker", "NoSuchTask", "TaskClosed", "PhotoRejected", "NoGridWorker",
           "AddressesRefused"]


class GridError(DomainError):
    """Base of the map's and the grid workers' errors."""

    status_code: int = 400
    error_id: str = "grid-error"


@dataclass(frozen=True)
class MapProblem:
    """One thing wrong with a map file: the feature's position (None for the file itself), its
    code when it has one, a stable kind and a sentence."""

    feature: int | None
    code: str | None
    kind: str
    message: str

    def __str__(self) -> str:
        where = f"feature #{self.feature}" if self.feature is not None else "file"
        if self.code:
            where += f" ({self.code})"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "code": self.code, "kind": self.kind,
                "message": self.message}


class MapRefused(GridError):
    """A map file was refused whole; ``problems`` lists every problem found, nothing changed."""

    error_id = "map-refused"

    def __init__(self, problems: list[MapProblem]) -> None:
        super().__init__(f"map refused, {len(problems)} problem(s), nothing changed: "
                         + "; ".join(str(p) for p in problems[:5])
                         + (" ..." if len(problems) > 5 else ""),
                         {"problems": [p.as_dict() for p in problems]})
        self.problems = problems


class AddressesRefused(GridError):
    """An address table was refused whole; ``problems`` lists every bad line."""

    error_id = "addresses-refused"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"address table refused, {len(problems)} problem(s), nothing changed: "
                         + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""),
                         {"problems": problems})
        self.problems = problems


class InvalidInput(GridError):
    """A report, visit, answer or log failed validation; ``details`` maps each field to why."""

    error_id = "invalid-input"

    def __init__(self, problems: dict[str, str]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems.items())
        super().__init__(f"invalid input: {text}", {"fields": problems})
        self.problems = problems


class NoSuchArea(GridError):
    status_code = 404
    error_id = "no-such-area"

    def __init__(self, code: str) -> None:
        super().__init__(f"no street, community or grid with code {code!r}", {"code": code})


class NotAGridWorker(GridError):
    """The account is not bound to a grid (``hotline grid worker add`` binds one)."""

    status_code = 403
    error_id = "not-a-grid-worker"

    def __init__(self, username: str) -> None:
        super().__init__(f"the account {username!r} is not bound to a grid "
                         "(未绑定网格，请联系管理员)", {"user": username})


class NoGridWorker(GridError):
    """The ticket's grid has no grid worker with an account to verify it."""

    status_code = 409
    error_id = "no-grid-worker"


class NoSuchTask(GridError):
    status_code = 404
    error_id = "no-such-task"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"no verification task {task_id} for you", {"task": task_id})


class TaskClosed(GridError):
    status_code = 409
    error_id = "task-closed"


class PhotoRejected(GridError):
    """A photo is not an image we accept, or is too large; ``details`` says which and why."""

    error_id = "photo-rejected"
