# -*- test-case-name: tests.grid.test_http -*-
"""Wire the map and the grid workers into the console: ``load(console)`` builds the service over
the console's ticket service (so both share one point-in-polygon index), hangs it on the
console as ``.grid`` and registers the routes of ``hotline.grid.http``."""

from __future__ import annotations

from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from hotline.config import Config
from hotline.grid.photos import PhotoStore
from hotline.grid.service import GridWorkerService
from hotline.tickets.service import TicketService

__all__ = ["GridPlugin", "load", "photo_store", "build_service"]


def photo_store(config: Config) -> PhotoStore:
    """The photo folder and limits of ``[grid]``."""
    grid = config["grid"]
    return PhotoStore(config.state_dir / grid["photo_dir"],
                      max_bytes=int(grid["photo_max_bytes"]), max_px=int(grid["photo_max_px"]))


def build_service(config: Config, tickets: TicketService | None = None) -> GridWorkerService:
    """The grid workers' service for a configuration (the command line builds its own)."""
    timezone = config["site"]["timezone"]
    tickets = tickets or TicketService(timezone=timezone)
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


def load(console: Any) -> GridPlugin:
    """Build the plugin on a ``WebConsole`` and register its pages and API calls."""
    from hotline.grid import http

    plugin = GridPlugin(service=build_service(console.config, console.tickets),
                        config=console.config)
    plugin.templates.filters["local"] = console.local_time
    console.grid = plugin
    http.register(console.router, console, plugin)
    return plugin
