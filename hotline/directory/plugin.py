# -*- test-case-name: tests.directory.test_directory -*-
"""Wire the hotline directory: the service (its index loaded when the console starts) and
``/api/directory``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.directory import http
from hotline.directory.service import DirectoryService

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """Build the directory service and register its route; its index loads at start."""
    if deps.directory is None:
        deps.directory = DirectoryService(timezone=deps.config["site"]["timezone"])
    if deps.console is not None:
        service, db = deps.directory, deps.db
        http.register(deps.console.router)

        async def refresh() -> None:
            await db.run(service.refresh)
        deps.console.on_start.append(refresh)
