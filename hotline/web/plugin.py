# -*- test-case-name: tests.web.test_console -*-
"""Wire the console: built first, so every later plugin registers its routes into it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.web.app import WebConsole

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> WebConsole:
    """Build the console on C{deps} (its own routes: sign-in, pages, ``/api/me``, drafts,
    audit, the event streams) and put it at C{deps.console}; not started."""
    if deps.console is None:
        deps.console = WebConsole(deps)
    return deps.console
