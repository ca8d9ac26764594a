# -*- test-case-name: tests.test_controller -*-
"""The one typed object each package's ``plugin.py`` is handed: the shared parts of a
controller, and the services the packages loaded before it built.

Like wazo-calld's ``Plugin.load(dependencies)``, a plugin reads what it needs from here, builds
its service, puts it back under its own name and registers its routes and event subscriptions;
nothing is looked up on the controller and nothing is a module-level singleton. The types are
imported for checking only: this module imports no package at run time, so every plugin may
import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotline.bus import EventBus

if TYPE_CHECKING:
    from db.session import Database
    from hotline.agents.service import AgentService
    from hotline.agi.routes import RouteTable
    from hotline.ami.client import AMIClient
    from hotline.bridge.service import BridgeService
    from hotline.calls.finaliser import CallFinaliser
    from hotline.calls.reconciler import CallReconciler
    from hotline.calls.service import CallService
    from hotline.calls.tracker import CallTracker
    from hotline.config import Config
    from hotline.directory.service import DirectoryService
    from hotline.floor.plugin import Floor
    from hotline.grid.plugin import GridPlugin
    from hotline.reports.job import DailyReportJob
    from hotline.softphone.plugin import Softphone
    from hotline.stt.service import TranscriptionService
    from hotline.tickets.service import TicketService
    from hotline.web.app import WebConsole
    from scheduler.service import CallbackScheduler

__all__ = ["Dependencies"]


def _same(path: str) -> str:
    return path


@dataclass
class Dependencies:
    """Shared parts (given) and services (filled in as plugins load, None until then).

    @ivar ami: the hotline PBX's AMI client; None for a console without a PBX link (tests,
        the command line), when no service that follows calls is built.
    @ivar host_path: a path Asterisk reports (recordings) as this host reads it.
    """

    config: Config
    reactor: Any
    db: Database
    bus: EventBus = field(default_factory=EventBus)
    ami: AMIClient | None = None
    routes: RouteTable | None = None
    host_path: Callable[[str], str] = _same
    node: str = ""
    #: Whether new calls are recorded now (no: the recordings disk is nearly full).
    record_calls: Callable[[], bool] = lambda: True
    console: WebConsole | None = None
    tracker: CallTracker | None = None
    calls: CallService | None = None
    finaliser: CallFinaliser | None = None
    reconciler: CallReconciler | None = None
    agents: AgentService | None = None
    tickets: TicketService | None = None
    directory: DirectoryService | None = None
    bridge: BridgeService | None = None
    scheduler: CallbackScheduler | None = None
    softphone: Softphone | None = None
    stt: TranscriptionService | None = None
    daily_report: DailyReportJob | None = None
    #: The other nodes' PBXs this controller follows (L{hotline.cluster.plugin}); none alone.
    peers: list[Any] = field(default_factory=list)
    grid: GridPlugin | None = None
    floor: Floor | None = None
