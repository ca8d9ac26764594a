# -*- test-case-name: tests.floor.test_wrapup -*-
"""Wire the floor: listening legs, after-call work and live captions over the live calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.floor import http
from hotline.floor.captions import LiveCaptions
from hotline.floor.keepplace import KeepPlace
from hotline.floor.spy import SpyService
from hotline.floor.wrapup import WrapUp

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["Floor", "load"]


class Floor:
    """The floor's parts on one controller."""

    def __init__(self, *, spy: SpyService, wrapup: WrapUp, keep_place: KeepPlace,
                 captions: LiveCaptions | None) -> None:
        self.spy = spy
        self.wrapup = wrapup
        self.keep_place = keep_place
        #: None when captions are off (``captions.enabled``) or nothing decodes here.
        self.captions = captions

    async def start(self) -> None:
        self.spy.subscribe()
        self.keep_place.subscribe()
        await self.wrapup.start()
        if self.captions is not None:
            await self.captions.start()

    async def stop(self) -> None:
        self.spy.stop()
        self.keep_place.stop()
        self.wrapup.stop()
        if self.captions is not None:
            await self.captions.stop()


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
                          seconds=float(config["queue"]["wrapup_s"]),
                          node=int(config["cluster"]["node"])),
            keep_place=KeepPlace(ami=deps.ami, tracker=deps.tracker, bus=deps.bus, db=deps.db,
                                 scheduler=deps.scheduler, agents=deps.agents,
                                 timezone=config["site"]["timezone"]),
            captions=_captions(deps))
    if deps.console is not None:
        http.register(deps.console.router, deps.floor)


def _captions(deps: Dependencies) -> LiveCaptions | None:
    """Live captions when they are on and this controller decodes speech."""
    cfg = deps.config["captions"]
    if not cfg["enabled"] or deps.stt is None or deps.ami is None or deps.tracker is None:
        return None
    console = deps.console

    def push(interface: str, payload: dict[str, object]) -> None:
        if console is not None:
            console.events.to_interface(interface, "caption", payload)

    return LiveCaptions(ami=deps.ami, tracker=deps.tracker, bus=deps.bus, db=deps.db,
                        registry=deps.stt.registry, transcripts=deps.stt.live,
                        reactor=deps.reactor, push=push, bind=cfg["bind"], host=cfg["host"],
                        port=int(cfg["port"]), workers=int(cfg["workers"]),
                        chunk_ms=int(cfg["chunk_ms"]), shed_after_s=float(cfg["shed_after_s"]))
