# -*- test-case-name: tests.test_controller -*-
"""The ``inbound`` script: who is calling, what is open for them, and the call's row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger

from hotline.agi import variables as v

if TYPE_CHECKING:
    from db.session import Database
    from hotline.agi.channel import AGIChannel
    from hotline.agi.routes import RouteTable
    from hotline.calls.journal import InboundCall

__all__ = ["register", "inbound_variables"]

_log = Logger(namespace="hotline.agi.scripts.inbound")


def inbound_variables(result: InboundCall) -> list[tuple[str, str]]:
    """The channel variables the dialplan and the agent's leg read, in the order they are set.

    The call id, the repeat flag and the open tickets go with the call to the agent's leg
    (inherited, C{__}): set so here, not copied by the dialplan, each is one VarSet a call."""
    caller = result.caller
    last = caller.history[0].id if caller.history else None
    return [
        ("__" + v.HOTLINE_CALL_ID, str(result.call_id)),
        (v.HOTLINE_CITIZEN_ID, str(caller.citizen_id or "")),
        (v.HOTLINE_CALLER_KNOWN, "1" if caller.known else "0"),
        ("__" + v.HOTLINE_REPEAT_CALLER, "1" if caller.repeat_caller else "0"),
        ("__" + v.HOTLINE_OPEN_TICKETS, str(len(caller.open_tickets))),
        (v.HOTLINE_LAST_TICKET_ID, str(last or "")),
        # Repeat callers are answered first: they are waiting on a promise already made.
        (v.HOTLINE_QUEUE_PRIORITY, "10" if caller.repeat_caller else "0"),
    ]


def register(routes: RouteTable, *, db: Database, open_call: Callable[..., InboundCall],
             clock: Callable[[], dt.datetime] | None = None,
             record: Callable[[], bool] = lambda: True) -> None:
    """Add ``inbound`` to ``routes``; the lookup and the row run on the database's pool.
    ``record()`` says whether new calls are recorded (no: the recordings disk is full).

    ``open_call(cursor, uniqueid=, linkedid=, caller_number=, now=)`` is the calls package's
    ``open_inbound_call`` (handed in by its plugin, so this package imports no other), run
    with no Session (``Database.run_direct``)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))

    @routes.register("inbound")
    async def inbound(agi: AGIChannel) -> None:
        request = agi.request
        # The dialplan hands the call's linkedid over as the first argument (one command
        # fewer per call); an older dialplan's script asks for it.
        linkedid = (request.args[0] if request.args else "") \
            or await agi.get_variable("CHANNEL(linkedid)") or request.uniqueid
        result = await db.run_direct(open_call, uniqueid=request.uniqueid, linkedid=linkedid,
                                     caller_number=request.callerid, now=now())
        variables = inbound_variables(result)
        if not record():
            variables.append((v.HOTLINE_RECORD, "0"))
        await agi.set_variables(variables)
        _log.info("inbound call {uniqueid} from {masked}: call_id={call_id} known={known} "
                  "open={open_tickets} repeat={repeat}", uniqueid=request.uniqueid,
                  masked=result.caller.masked_phone, call_id=result.call_id,
                  known=result.caller.known, open_tickets=len(result.caller.open_tickets),
                  repeat=result.caller.repeat_caller)
