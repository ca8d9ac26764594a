# -*- test-case-name: tests.stt.test_integration -*-
"""Wire speech-to-text: a job queued for every finalised call, the finished transcript pushed
to the desk of the seat that took the call, ``GET /api/transcripts/latest``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from hotline.calls.events import CallFinalised
from hotline.stt import http
from hotline.stt.service import TranscriptionService, TranscriptReady

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies
    from hotline.web.app import WebConsole

__all__ = ["load", "build"]

_log = Logger(namespace="hotline.stt.plugin")


def build(deps: Dependencies, **kwargs: Any) -> TranscriptionService:
    """A transcription service on C{deps} that queues a job for every finalised call, put at
    C{deps.stt}. Keyword arguments go to the service (tests pass a shared ``registry``). The
    caller awaits ``start()`` after ``db.start()`` and ``stop()`` before ``db.stop()``."""
    service = TranscriptionService(config=deps.config, db=deps.db, reactor=deps.reactor,
                                   bus=deps.bus, **kwargs)
    if deps.finaliser is not None:
        # The job is queued in the call's own final unit of work; once that is committed a
        # free worker may take it (no database work of its own per call). A call captioned
        # live is left to on_call_finalised, which stores its live words instead.
        remove = deps.finaliser.add_step(service.enqueue_step, guarded=False)
        listening = deps.bus.subscribe(CallFinalised, lambda e: service.on_call_finalised(
            e.call_id, e.uniqueid, queued=True))

        def detach() -> None:
            remove()
            listening.cancel()
        service.detach = detach
    else:
        service.detach = deps.bus.subscribe(
            CallFinalised, lambda e: service.on_call_finalised(e.call_id, e.uniqueid)).cancel
    deps.stt = service
    return service


def load(deps: Dependencies) -> None:
    """Build the service when calls are finalised here; register the route and the pushes."""
    if deps.stt is None and deps.finaliser is not None:
        build(deps)
    if deps.console is not None:
        http.register(deps.console.router)
        console = deps.console
        deps.bus.subscribe(TranscriptReady, lambda e: _push(console, e))


def _push(console: WebConsole, event: TranscriptReady) -> None:
    """The transcript (or why it failed) to the desks of the seat that took the call."""
    d = console.db.run(http.transcript_of_call, event.call_id)

    def push(view: dict[str, Any] | None) -> None:
        if view is not None and view["agent"]:
            console.events.to_seat(view["agent"], "transcript", view)
    d.addCallback(push)
    d.addErrback(lambda f: _log.failure("transcript of call {id}: cannot push it", f,
                                        id=event.call_id))
