# -*- test-case-name: tests.tickets.test_http -*-
"""Wire the tickets: the service (with the site's deadline rules), the JSON API, the desk and
the liaison's pages, Open311, and the life after intake: its actions, attachments, the ticket
pages' push stream, its routes and pages, and the scheduler's notices (reminders, 督办, survey
verdicts) pushed to those pages."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import threads
from twisted.logger import Logger

from hotline.agi.scripts import status as status_script
from hotline.pbx import prompts
from hotline.tickets import desk, http, incident_http, liaison, life_api, open311, pages
from hotline.tickets.actions import TicketActions
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.clock import DeadlineRules
from hotline.tickets.notifier import TicketStream
from hotline.tickets.service import TicketService
from hotline.tickets.status import StatusLine
from hotline.web.auth import attempt_limiter

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["TicketLife", "load"]

_log = Logger(namespace="hotline.tickets.plugin")

#: Room for a multipart form's own bytes around the largest file accepted.
_FORM_OVERHEAD = 64 * 1024


class TicketLife:
    """The life after intake on one console: the actions people take, the stream that pushes
    what changed to the ticket pages, and the scheduler whose notices it pushes.

    @param config: the hotline ``Config`` (``[tickets]``, ``site.state_dir``).
    @param service: the ticket service (its clock, zone and deadline rules).
    @param reactor: for the stream's keepalive.
    """

    def __init__(self, *, config: Any, service: TicketService, reactor: Any) -> None:
        settings = config["tickets"]
        store = AttachmentStore(config.state_dir / settings["attachment_dir"],
                                max_bytes=int(settings["attachment_max_bytes"]),
                                types=settings["attachment_types"])
        self.actions = TicketActions(service=service, attachments=store)
        self.stream = TicketStream(reactor)
        #: The largest request body of a route that takes a file.
        self.upload_limit = store.max_bytes + _FORM_OVERHEAD
        self._listening = False

    def start(self, scheduler: Any) -> None:
        """Open the stream; push the notices of ``scheduler`` (None: a console alone)."""
        self.stream.start()
        if scheduler is not None and not self._listening:
            scheduler.on_ticket_notice(self._from_scheduler)
            self._listening = True

    def stop(self) -> None:
        self.stream.stop()

    def _from_scheduler(self, notice: Any) -> None:
        """A reminder, a 督办 notice, a reminder call's outcome or a survey's verdict."""
        if notice.notice is not None:
            self.stream.notice(notice.notice)
        if notice.ticket is not None:
            self.stream.ticket_changed(notice.ticket)


def load(deps: Dependencies) -> None:
    """Build the ticket service and register its routes and pages; the life after intake is
    at ``console.ticket_life``, started with the console (the scheduler, loaded after this
    plugin, is looked up then)."""
    if deps.tickets is None:
        deps.tickets = TicketService(timezone=deps.config["site"]["timezone"],
                                     rules=DeadlineRules.from_settings(deps.config["tickets"]))
    console = deps.console
    limiter = console.status_limiter if console is not None else attempt_limiter(
        deps.config["web"], clock=deps.reactor.seconds)
    status_line = StatusLine(db=deps.db, limiter=limiter, local=deps.tickets.local,
                             per_address=console.status_address_limiter
                             if console is not None else None)
    if deps.routes is not None and deps.config["status_line"]["menu"]:
        zone = zoneinfo.ZoneInfo(deps.config["site"]["timezone"])
        phrase = _phrase_maker(deps)
        status_script.register(deps.routes,
                               lookup=status_line.phone_lookup(zone, phrase=phrase),
                               own=status_line.phone_own(zone, phrase=phrase),
                               settings=deps.config["status_line"])
    if console is None:
        return
    console.status_line = status_line
    life = TicketLife(config=deps.config, service=deps.tickets, reactor=deps.reactor)
    console.ticket_life = life
    for module in (http, desk, liaison, open311):
        module.register(console.router)
    life_api.register(console.router, life)
    pages.register(console.router, life)
    incident_http.register(console.router, life)

    async def start() -> None:
        life.start(deps.scheduler)
    console.on_start.append(start)
    console.on_stop.append(life.stop)


def _phrase_maker(deps: Dependencies) -> Any:
    """``phrase(text, sounds)`` for the phone's status line: a department's name said into
    the PBX's sound folder (as this host reads it), on a thread; None if it cannot be made."""
    short = bool(deps.config["pbx"]["short_prompts"])

    async def phrase(text: str, sounds: str) -> str | None:
        folder = Path(deps.host_path(f"{sounds}/zh/said"))
        try:
            stem = await threads.deferToThread(prompts.build_phrase, folder, text, short=short)
        except (prompts.PromptError, OSError) as error:
            _log.warn("status line: cannot say {text!r}: {error}", text=text, error=error)
            return None
        return f"said/{stem}"
    return phrase
