# -*- test-case-name: tests.stt.test_integration -*-
"""Wire the transcription service into a controller: built from its shared objects, fed by its
call finaliser. The controller starts it after its database and stops it before."""

from __future__ import annotations

from typing import Any

from hotline.stt.service import TranscriptionService

__all__ = ["attach"]


def attach(controller: Any, **kwargs: Any) -> TranscriptionService:
    """Build the service from ``controller`` (``config``, ``db``, ``reactor``, ``finaliser``)
    and queue a job for every finalised call. Keyword arguments go to the service (tests pass a
    shared ``registry``). The caller awaits ``start()`` after ``db.start()`` and ``stop()``
    before ``db.stop()``."""
    service = TranscriptionService(config=controller.config, db=controller.db,
                                   reactor=controller.reactor, **kwargs)
    service.detach = controller.finaliser.on_finalised(service.on_call_finalised)
    return service
