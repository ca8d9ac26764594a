"""The indices' domain errors, each with its HTTP status and a stable ``error_id``."""

from __future__ import annotations

from hotline.errors import DomainError

__all__ = ["IndicesError", "BadIndexQuery", "NoSuchWarning", "WarningHandled"]


class IndicesError(DomainError):
    """Base of the indices' errors."""

    status_code = 400
    error_id = "index-error"


class BadIndexQuery(IndicesError):
    """A dimension, step, day or period the indices do not know."""

    error_id = "bad-index-query"


class NoSuchWarning(IndicesError):
    """No early warning with that id."""

    status_code = 404
    error_id = "no-such-warning"


class WarningHandled(IndicesError):
    """The early warning was already turned into a task or dismissed."""

    status_code = 409
    error_id = "warning-handled"
