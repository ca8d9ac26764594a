# -*- test-case-name: tests.softphone.test_browser -*-
"""Wire the softphone into a controller: ``attach(controller)`` builds it, the console mounts it."""

from __future__ import annotations

from typing import Any

from hotline.softphone.resource import SoftphoneResource, WhoCheck
from hotline.softphone.service import SoftphoneService
from hotline.softphone.watcher import RegistrationWatcher

__all__ = ["Softphone", "attach"]


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


def attach(controller: Any) -> Softphone:
    """Build the softphone on ``controller`` (``.ami``, ``.config``, ``.agents``); not started."""
    codes = tuple(controller.config["queue"]["agents"])
    service = SoftphoneService(ami=controller.ami, config=controller.config, agents=codes)
    watcher = RegistrationWatcher(ami=controller.ami, agents=controller.agents, codes=codes,
                                  holds=service.active.__contains__)
    service.on_released(watcher.released)
    return Softphone(service=service, watcher=watcher)
