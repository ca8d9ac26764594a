# -*- test-case-name: tests.tickets.test_http -*-
"""Wire the ticket's life after intake into the console: actions, attachments, the push stream,
the routes and pages, and the scheduler's notices (reminders, 督办, survey verdicts)."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from hotline.tickets import http, pages
from hotline.tickets.actions import TicketActions
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.notifier import TicketStream
from hotline.tickets.service import TicketService
from hotline.web.routing import Router

__all__ = ["TicketsPlugin"]

_log = Logger(namespace="hotline.tickets.plugin")

#: Room for a multipart form's own bytes around the largest file accepted.
_FORM_OVERHEAD = 64 * 1024


class TicketsPlugin:
    """The tickets package on one console.

    @param config: the hotline ``Config`` (``[tickets]``, ``site.state_dir``).
    @param service: the console's ticket service (its clock, zone and deadline rules).
    @param reactor: for the stream's keepalive.
    @param scheduler: the callback scheduler, whose ticket notices are pushed (None: none).
    """

    def __init__(self, *, config: Any, service: TicketService, reactor: Any,
                 scheduler: Any = None) -> None:
        settings = config["tickets"]
        store = AttachmentStore(config.state_dir / settings["attachment_dir"],
                                max_bytes=int(settings["attachment_max_bytes"]),
                                types=settings["attachment_types"])
        self.actions = TicketActions(service=service, attachments=store)
        self.stream = TicketStream(reactor)
        self.scheduler = scheduler
        #: The largest request body of a route that takes a file.
        self.upload_limit = store.max_bytes + _FORM_OVERHEAD
        self._listening = False

    def register(self, router: Router) -> None:
        """Add the API routes and the pages."""
        http.register(router, self)
        pages.register(router, self)

    def start(self) -> None:
        self.stream.start()
        if self.scheduler is not None and not self._listening:
            self.scheduler.on_ticket_notice(self._from_scheduler)
            self._listening = True

    def stop(self) -> None:
        self.stream.stop()

    def _from_scheduler(self, notice: Any) -> None:
        """A reminder, a 督办 notice, a reminder call's outcome or a survey's verdict."""
        if notice.notice is not None:
            self.stream.notice(notice.notice)
        if notice.ticket is not None:
            self.stream.ticket_changed(notice.ticket)
