# -*- test-case-name: tests.scheduler.test_integration -*-
"""Wire the timed-reply scheduler into a controller: built on the live call tracker (placed
legs' outcomes, free agents), started after the AMI link is ready; its desk routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.agi.scripts import overflow
from scheduler import http, store
from scheduler.service import CallbackScheduler

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """Build the scheduler when there is a PBX link (not started: ``await start()`` after
    the AMI link is ready, ``await stop()`` before it drops); register ``/api/callbacks``."""
    if deps.scheduler is None and deps.ami is not None:
        deps.scheduler = CallbackScheduler(config=deps.config, ami=deps.ami, db=deps.db,
                                           reactor=deps.reactor, node=deps.node,
                                           tracker=deps.tracker)
        if deps.peers:
            # Several PBXs: a seat of another node is rung on its own PBX (hotline/cluster).
            from hotline.cluster.links import acting_link

            for peer in deps.peers:
                deps.scheduler.add_peer(peer.node.number, tracker=peer.tracker,
                                        ami=acting_link(deps.config, peer.node, deps.reactor))
    if deps.routes is not None:
        # Callers the queue could not take are promised a callback (queue.overflow).
        overflow.register(deps.routes, db=deps.db, settings=deps.config["queue"],
                          timezone=deps.config["site"]["timezone"],
                          file_promise=store.overflow_promise)
    if deps.console is not None:
        http.register(deps.console.router)
