# -*- test-case-name: tests.reports.test_periods -*-
"""Errors of the report package: bad input is refused with a stable id and the details."""

from __future__ import annotations

from typing import Any

__all__ = ["ReportError", "BadPeriod", "UnknownFilterValue", "BadGeometry"]


class ReportError(Exception):
    """A report cannot be made as asked; ``error_id`` and ``details`` let the console render it
    like any other domain error (HTTP 400)."""

    error_id = "report-error"
    status_code = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the console's JSON and error pages show every domain error."""
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class BadPeriod(ReportError):
    """The dates of a period are missing, malformed or in the wrong order."""

    error_id = "bad-period"


class UnknownFilterValue(ReportError):
    """A filter or grouping names a department, agent, grid or dimension that does not exist."""

    error_id = "unknown-filter-value"


class BadGeometry(ReportError):
    """The grid geometry file cannot be read or is not a list of grids with polygons."""

    error_id = "bad-geometry"
