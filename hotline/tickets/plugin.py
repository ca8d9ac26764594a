# -*- test-case-name: tests.web.test_api -*-
"""Wire the tickets: the service, the JSON API, the desk and the liaison's pages, Open311."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.tickets import desk, http, liaison, open311
from hotline.tickets.service import TicketService

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """Build the ticket service and register its routes and pages."""
    if deps.tickets is None:
        deps.tickets = TicketService(timezone=deps.config["site"]["timezone"])
    if deps.console is not None:
        for module in (http, desk, liaison, open311):
            module.register(deps.console.router)
