# -*- test-case-name: tests.test_controller -*-
"""Every package's plugin, in the order they load: the console first (every later plugin
registers its routes into it), then the live calls (the tracker whose events the others
consume) and, with several nodes, the view over every PBX, then the services that build on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotline import openapi
from hotline.agents import plugin as agents
from hotline.bridge import plugin as bridge
from hotline.calls import plugin as calls
from hotline.civic import plugin as civic
from hotline.cluster import plugin as cluster
from hotline.dependencies import Dependencies
from hotline.directory import plugin as directory
from hotline.floor import plugin as floor
from hotline.grid import plugin as grid
from hotline.indices import plugin as indices
from hotline.reports import plugin as reports
from hotline.softphone import plugin as softphone
from hotline.stt import plugin as stt
from hotline.tickets import plugin as tickets
from hotline.web import plugin as web
from scheduler import plugin as scheduler

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["PLUGINS", "load_plugins", "web_console"]

PLUGINS = (web, calls, cluster, agents, tickets, grid, directory, bridge, scheduler, softphone,
           stt, reports, floor, indices, civic)


def load_plugins(deps: Dependencies) -> Dependencies:
    """Load every plugin on C{deps} in order; return C{deps}, filled in.

    A console without a PBX link (C{deps.ami} None: tests, a reports-only node) gets every
    route and no service that follows calls, unless C{deps} already holds one."""
    for plugin in PLUGINS:
        plugin.load(deps)
    assert deps.console is not None
    openapi.register(deps.console.router)
    return deps


def web_console(*, config: Any, db: Any, reactor: Any, **services: Any) -> WebConsole:
    """A console with every package's routes over C{services} as given (no PBX link: nothing
    that follows calls is built), for tests and tools that serve the console alone.
    C{services} are L{Dependencies} fields (``calls``, ``bridge``, ``bus``, ...)."""
    deps = load_plugins(Dependencies(config=config, reactor=reactor, db=db, **services))
    assert deps.console is not None
    return deps.console
