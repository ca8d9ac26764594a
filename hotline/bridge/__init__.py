"""Three-way bridging (三方通话): citizen, agent and a municipal hotline in one room."""

from __future__ import annotations

from typing import Any

__all__ = ["attach"]


def attach(controller: Any) -> Any:
    """Build a ``BridgeService`` on the controller's config, AMI, database, reactor and live
    call view, subscribe it, write bridges on tickets once calls are final, and hang it on the
    controller as ``.bridge`` (the console picks it up from there)."""
    from hotline.bridge.service import BridgeService

    service = BridgeService(config=controller.config, ami=controller.ami, db=controller.db,
                            reactor=controller.reactor, tracker=controller.tracker,
                            host_path=controller.finaliser.host_path)
    service.subscribe()
    controller.finaliser.on_finalised(service.call_finalised)
    controller.bridge = service
    return service
