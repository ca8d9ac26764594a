# -*- test-case-name: tests.agi.test_overflow -*-
"""The ``overflow`` AGI script: a caller the queue could not take (full, or waited too long).

With ``queue.overflow = "callback"`` the caller is promised a callback: a ticket is filed for
the call and a timed reply is due ``queue.overflow_callback_in_s`` later, which the scheduler
places like any other; the dialplan then says so and hangs up. The dialplan plays the plain
"please call again" message instead whenever this script did not confirm the promise
(``HOTLINE_CALLBACK_FILED``), the controller being down included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from hotline import phone
from hotline.agi import variables as v

if TYPE_CHECKING:
    from db.session import Database
    from hotline.agi.channel import AGIChannel
    from hotline.agi.routes import RouteTable

__all__ = ["register"]

_log = Logger(namespace="hotline.agi.scripts.overflow")


def register(routes: RouteTable, *, db: Database, settings: dict[str, Any], timezone: str,
             file_promise: Callable[..., str],
             clock: Callable[[], dt.datetime] | None = None) -> None:
    """Add ``overflow`` to ``routes`` (``settings``: the ``[queue]`` section).

    ``file_promise(session, uniqueid=, caller=, reason=, due=, timezone=)`` files the ticket
    and the promise and returns the ticket's number (the scheduler's, handed in by its plugin,
    so this package imports no other)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))

    @routes.register("overflow")
    async def overflow(agi: AGIChannel) -> None:
        reason = await agi.get_variable("QUEUESTATUS") or "TIMEOUT"
        caller = agi.request.callerid
        if settings["overflow"] != "callback":
            return
        try:
            phone.normalise(caller or "")
        except phone.InvalidPhoneNumber:
            _log.info("overflow {uniqueid}: no number to call back", uniqueid=agi.request.uniqueid)
            return
        due = now() + dt.timedelta(seconds=float(settings["overflow_callback_in_s"]))
        number = await db.run(file_promise, uniqueid=agi.request.uniqueid, caller=caller,
                              reason=reason, due=due, timezone=timezone)
        await agi.set_variable(v.HOTLINE_CALLBACK_FILED, "1")
        _log.info("overflow {uniqueid} ({reason}): callback promised on ticket {ticket}",
                  uniqueid=agi.request.uniqueid, reason=reason, ticket=number)
