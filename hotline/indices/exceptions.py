"""The indices' domain errors, each with its HTTP status and a stable ``error_id``."""

from __future__ import annotations

from typing import Any

__all__ = ["IndicesError", "BadIndexQuery", "NoSuchWarning", "WarningHandled"]


class IndicesError(Exception):
    """Base of the indices' errors."""

    status = 400
    error_id = "index-error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadIndexQuery(IndicesError):
    """A dimension, step, day or period the indices do not know."""

    error_id = "bad-index-query"


class NoSuchWarning(IndicesError):
    """No early warning with that id."""

    status = 404
    error_id = "no-such-warning"


class WarningHandled(IndicesError):
    """The early warning was already turned into a task or dismissed."""

    status = 409
    error_id = "warning-handled"
