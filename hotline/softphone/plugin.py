# -*- test-case-name: tests.softphone.test_browser -*-
"""Wire the softphone: ``load(deps)`` builds it and mounts its resource in the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.softphone.resource import SoftphoneResource, WhoCheck
from hotline.softphone.service import SoftphoneService
from hotline.softphone.watcher import RegistrationWatcher

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["Softphone", "build", "load"]


class Softphone:
    """The softphone's parts on one controller: credentials, the registration watcher."""

    def __init__(self, *, service: SoftphoneService, watcher: RegistrationWatcher) -> None:
        self.service = service
        self.watcher = watcher

    def resource(self, who: WhoCheck) -> SoftphoneResource:
        """The twisted.web resource the console mounts; ``who(request)`` -> agent code or None."""
        return SoftphoneResource(self.service, who)

    async def start(self) -> None:
        """Watch registrations and take over the softphones an earlier run issued: a controller
        restart does not knock agents off their phones (the console's sign-out revokes)."""
        await self.service.adopt()
        self.watcher.start()
        await self.watcher.resync()

    async def stop(self) -> None:
        """Stop watching; browsers keep their registrations for the next controller run."""
        self.watcher.stop()


def build(deps: Dependencies) -> Softphone:
    """The softphone on C{deps} (``ami``, ``config``, ``agents``); not started."""
    assert deps.ami is not None and deps.agents is not None
    codes = tuple(deps.config["queue"]["agents"])
    service = SoftphoneService(ami=deps.ami, config=deps.config, agents=codes)
    watcher = RegistrationWatcher(ami=deps.ami, agents=deps.agents, codes=codes,
                                  holds=service.active.__contains__)
    service.on_released(watcher.released)
    return Softphone(service=service, watcher=watcher)


def load(deps: Dependencies) -> None:
    """Build the softphone when there is a PBX link and mount it in the console."""
    if deps.softphone is None and deps.ami is not None and deps.agents is not None:
        deps.softphone = build(deps)
    if deps.console is not None and deps.softphone is not None:
        deps.console.mount(b"softphone", deps.softphone.resource(deps.console.softphone_agent))
