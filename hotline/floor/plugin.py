# -*- test-case-name: tests.floor.test_wrapup -*-
"""Wire the floor: listening legs, after-call work and live captions over the live calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.floor import http
from hotline.floor.spy import SpyService
from hotline.floor.wrapup import WrapUp

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["Floor", "load"]


class Floor:
    """The floor's parts on one controller."""

    def __init__(self, *, spy: SpyService, wrapup: WrapUp) -> None:
        self.spy = spy
        self.wrapup = wrapup

    async def start(self) -> None:
        self.spy.subscribe()
        await self.wrapup.start()

    async def stop(self) -> None:
        self.spy.stop()
        self.wrapup.stop()


def load(deps: Dependencies) -> None:
    """Build the floor when there is a PBX link (the tracker, the agents); mount its routes."""
    if deps.floor is None and deps.ami is not None and deps.tracker is not None \
            and deps.agents is not None:
        config = deps.config
        deps.floor = Floor(
            spy=SpyService(ami=deps.ami, tracker=deps.tracker, bus=deps.bus, db=deps.db,
                           clock=deps.reactor,
                           caller_id=config["site"]["hotline_number"][-4:]),
            wrapup=WrapUp(agents=deps.agents, bus=deps.bus, clock=deps.reactor,
                          seconds=float(config["queue"]["wrapup_s"])))
    if deps.console is not None:
        http.register(deps.console.router, deps.floor)
