"""The base of every package's domain errors: a stable ``error_id``, a ``details`` dict and the
HTTP status the web layer answers with, so the console, the JSON API and the command line
render all of them one way (as wazo-calld's errors do). Raising one means nothing was changed
by the call that raised it."""

from __future__ import annotations

from typing import Any

__all__ = ["DomainError"]


class DomainError(Exception):
    """An operation refused as asked; subclasses name their ``error_id`` and ``status_code``."""

    status_code: int = 400
    error_id: str = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the JSON API returns it."""
        return {"error_id": self.error_id, "message": self.message, "details": self.details}
