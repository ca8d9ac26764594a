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

__all__ = ["register", "promise_callback"]

_log = Logger(namespace="hotline.agi.scripts.overflow")


def promise_callback(session: Any, *, uniqueid: str, caller: str, reason: str,
                     due: dt.datetime, timezone: str) -> str:
    """File the ticket of an overflowed call and promise its callback; returns its number."""
    from hotline.tickets.service import TicketService
    from scheduler import store

    ticket = TicketService(timezone=timezone).intake(session, {
        "channel": "hotline", "kind": "help", "phone": caller, "call_uniqueid": uniqueid,
        "description": f"来电未能接通（{'排队已满' if reason == 'FULL' else '等待超时'}），"
                       "系统已承诺回电"}, actor="overflow")
    store.promise(session, ticket.id, due, owner_code=None, actor="overflow", timezone=timezone)
    return ticket.number


def register(routes: RouteTable, *, db: Database, settings: dict[str, Any], timezone: str,
             clock: Callable[[], dt.datetime] | None = None) -> None:
    """Add ``overflow`` to ``routes`` (``settings``: the ``[queue]`` section)."""
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
        number = await db.run(promise_callback, uniqueid=agi.request.uniqueid, caller=caller,
                              reason=reason, due=due, timezone=timezone)
        await agi.set_variable(v.HOTLINE_CALLBACK_FILED, "1")
        _log.info("overflow {uniqueid} ({reason}): callback promised on ticket {ticket}",
                  uniqueid=agi.request.uniqueid, reason=reason, ticket=number)
