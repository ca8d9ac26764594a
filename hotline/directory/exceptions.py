"""Errors of the directory; like the ticket errors they carry error_id, details, status code."""

from __future__ import annotations

from typing import Any

__all__ = ["DirectoryError", "DirectoryImportError", "InvalidServiceHours"]


class DirectoryError(Exception):
    status_code: int = 400
    error_id: str = "directory-error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class DirectoryImportError(DirectoryError):
    """A CSV file was refused as a whole; ``problems`` lists (line number, message) pairs,
    line numbers counted in the file as an editor shows them (the header is line 1 or later)."""

    error_id = "directory-import-refused"

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        shown = "\n".join(f"line {line}: {why}" for line, why in problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"directory import refused, nothing imported "
                         f"({len(problems)} problem(s)):\n{shown}{more}",
                         {"problems": [{"line": line, "message": why}
                                       for line, why in problems]})
        self.problems = problems


class InvalidServiceHours(ValueError):
    """A service-hours text that cannot be read; the message shows the expected form."""
