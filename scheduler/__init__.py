"""Timed-reply enforcement: reminders, escalation, callbacks placed and retried, surveys.

``attach(controller)`` builds the scheduler from the controller's shared objects; the
controller starts it after its AMI link is ready and stops it before dropping the link.
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach"]


def attach(controller: Any, *, node: str = "") -> Any:
    """Build a ``CallbackScheduler`` on ``controller``'s config, AMI client, database and
    reactor, and return it (not started: call ``await scheduler.start()`` after
    ``controller.start()``, ``await scheduler.stop()`` before ``controller.stop()``)."""
    from scheduler.service import CallbackScheduler

    return CallbackScheduler(config=controller.config, ami=controller.ami, db=controller.db,
                             reactor=controller.reactor, node=node)
