# -*- test-case-name: tests.grid.test_http -*-
"""Wire the map and the grid workers: the ticket service gets the point-in-polygon locator
(so a ticket filed without a grid is placed on the map; tickets do not import the map), the
grid workers' service is built over it (both share one index) and put at C{deps.grid}, and the
routes of L{hotline.grid.http} are registered into the console, with the photos and
verifications on a ticket's page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from hotline.config import Config
from hotline.grid import http
from hotline.grid.locate import GridLocator
from hotline.grid.photos import PhotoStore
from hotline.grid.service import GridWorkerService
from hotline.tickets.service import TicketService

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["GridPlugin", "load", "photo_store", "build_service"]


def photo_store(config: Config) -> PhotoStore:
    """The photo folder and limits of ``[grid]``."""
    grid = config["grid"]
    return PhotoStore(config.state_dir / grid["photo_dir"],
                      max_bytes=int(grid["photo_max_bytes"]), max_px=int(grid["photo_max_px"]))


def build_service(config: Config, tickets: TicketService | None = None) -> GridWorkerService:
    """The grid workers' service for a configuration (the command line builds its own)."""
    timezone = config["site"]["timezone"]
    tickets = tickets or TicketService(timezone=timezone, locator=GridLocator())
    return GridWorkerService(tickets=tickets, photos=photo_store(config), timezone=timezone)


class GridPlugin:
    """The grid workers' parts on one console: the service, the limits, the templates (the
    package's own, falling back to the console's for the shared layout)."""

    def __init__(self, *, service: GridWorkerService, config: Config) -> None:
        self.service = service
        grid = config["grid"]
        self.photos_per_report = int(grid["photos_per_report"])
        self.map_max_bytes = int(grid["map_max_bytes"])
        self.templates = Environment(
            loader=ChoiceLoader([PackageLoader("hotline.grid", "templates"),
                                 PackageLoader("hotline.web", "templates")]),
            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

    @property
    def upload_limit(self) -> int:
        """The largest report or answer body: its photos and some room for the text."""
        return self.photos_per_report * self.service.photos.max_bytes + 256 * 1024


def load(deps: Dependencies) -> GridPlugin:
    """Give the ticket service its locator, build the plugin at C{deps.grid} and register its
    pages and API calls, and the ticket page's grid extras, into the console."""
    assert deps.tickets is not None, "the tickets plugin loads first"
    if deps.tickets.locator is None:
        deps.tickets.locator = GridLocator()
    if deps.grid is None:
        deps.grid = GridPlugin(service=build_service(deps.config, deps.tickets),
                               config=deps.config)
    if deps.console is not None:
        deps.grid.templates.filters["local"] = deps.console.local_time
        http.register(deps.console.router, deps.grid)
        deps.console.ticket_page_extras.append(http.ticket_extras)
    return deps.grid
