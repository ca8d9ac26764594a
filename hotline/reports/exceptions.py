# -*- test-case-name: tests.reports.test_periods -*-
"""Errors of the report package: bad input is refused with a stable id and the details."""

from __future__ import annotations

from hotline.errors import DomainError

__all__ = ["ReportError", "BadPeriod", "UnknownFilterValue", "BadGeometry"]


class ReportError(DomainError):
    """A report cannot be made as asked; ``error_id`` and ``details`` let the console render it
    like any other domain error (HTTP 400)."""

    error_id = "report-error"
    status_code = 400


class BadPeriod(ReportError):
    """The dates of a period are missing, malformed or in the wrong order."""

    error_id = "bad-period"


class UnknownFilterValue(ReportError):
    """A filter or grouping names a department, agent, grid or dimension that does not exist."""

    error_id = "unknown-filter-value"


class BadGeometry(ReportError):
    """The grid geometry file cannot be read or is not a list of grids with polygons."""

    error_id = "bad-geometry"
