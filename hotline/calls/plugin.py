# -*- test-case-name: tests.test_controller -*-
"""Wire the live calls: the tracker (the only AMI reader for calls), its queries, the
finaliser and the reconciler, the ``inbound`` FastAGI script, ``/api/calls`` and the desk's
call streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.agi.scripts import inbound
from hotline.calls import http
from hotline.calls.finaliser import CallFinaliser
from hotline.calls.journal import open_inbound_call
from hotline.calls.notifier import CallNotifier
from hotline.calls.reconciler import CallReconciler
from hotline.calls.service import CallService
from hotline.calls.stream import CallStream
from hotline.calls.tracker import CallTracker

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """Build what follows calls when there is a PBX link (C{deps.ami}); always register the
    routes on C{deps.console}, and feed its desk streams when there is a live view (without
    one, ``/api/events`` answers 503)."""
    config = deps.config
    if deps.ami is not None and deps.tracker is None:
        deps.tracker = CallTracker(ami=deps.ami, clock=deps.reactor,
                                   queue_name=config["queue"]["name"],
                                   notifier=CallNotifier(deps.bus))
        deps.finaliser = CallFinaliser(bus=deps.bus, db=deps.db, host_path=deps.host_path)
        deps.reconciler = CallReconciler(
            ami=deps.ami, db=deps.db, finaliser=deps.finaliser, host_path=deps.host_path,
            interval_s=float(config["calls"]["reconcile_interval_s"]))
    if deps.tracker is not None and deps.calls is None:
        deps.calls = CallService(tracker=deps.tracker)
    if deps.routes is not None:
        inbound.register(deps.routes, db=deps.db, open_call=open_inbound_call,
                         record=deps.record_calls)
    if deps.console is not None:
        http.register(deps.console.router)
        if deps.calls is not None:
            CallStream(console=deps.console, bus=deps.bus).start()
