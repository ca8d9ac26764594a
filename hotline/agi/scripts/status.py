# -*- test-case-name: tests.agi.test_status -*-
"""The ``status`` AGI script: the citizen's status line by phone (查询工单进度请按2).

The caller pressed 2 at the menu after the greeting (dialplan/inbound.conf.j2). The script asks
for the ticket number (its 14 digits, # ends) and the last four digits of the phone the problem
was reported from, then says where the ticket stands: status, department, deadline. It is the
same answer as the public web page, through the same throttle of misses per ticket (the lookup
is handed in by the tickets package, so this package imports no other).

Before that, the caller's own open tickets are looked up by the number they call from: when
there are some, their status is said first, then 1 keys in another ticket's number, 0 reaches
an agent and nothing ends the call with a goodbye.

A miss (a wrong number, wrong digits, nothing keyed) says 未找到 and asks again; after
``tries`` misses, on 0, or when the ticket's misses are throttled the caller is put through to
an agent: the script just ends and the dialplan queues the call. Only after an answer does it
set ``HOTLINE_STATUS_DONE`` so the dialplan says goodbye instead; if the controller is down or
the script fails the variable stays empty and the caller reaches a person, as ever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from hotline.agi import variables as v

if TYPE_CHECKING:
    from hotline.agi.channel import AGIChannel
    from hotline.agi.routes import RouteTable

__all__ = ["StatusReply", "register", "TO_AGENT", "ANOTHER"]

_log = Logger(namespace="hotline.agi.scripts.status")

#: The key that leaves the status line for an agent, at any prompt that takes keys.
TO_AGENT = "0"
#: Keys read for a ticket number: its 14 digits and room for the # the prompt asks to end
#: them with (with exactly 14 the # would land on the next prompt and end it empty).
NUMBER_KEYS = 15


@dataclass(frozen=True, slots=True)
class StatusReply:
    """What the status line says for one query.

    @ivar say: the prompts that answer it (names under the sounds' C{zh/} folder), in order;
        empty when nothing matched (未找到).
    @ivar retry_after_s: set when the ticket's misses are throttled (no lookup was made).
    """

    say: tuple[str, ...] = ()
    retry_after_s: float | None = None


#: ``lookup(ticket_digits, last4, sounds=)`` → the reply; ``sounds`` is the PBX's sound folder
#: (the dialplan's ``SOUNDS``), where a phrase no prompt holds (a department's name) is made.
Lookup = Callable[..., Awaitable[StatusReply]]
#: ``own(caller_number, sounds=)`` → the reply saying the caller's own open tickets (empty: none).
OwnLookup = Callable[..., Awaitable[StatusReply]]
#: The key that goes on from the caller's own tickets to keying another ticket's number.
ANOTHER = "1"


def register(routes: RouteTable, *, lookup: Lookup, settings: Mapping[str, Any],
             own: OwnLookup | None = None) -> None:
    """Add ``status`` to ``routes`` (``settings``: the ``[status_line]`` section), with the
    dialogue's own time limit (``script_timeout_s``) instead of the server's few seconds."""
    tries = int(settings["tries"])
    digit_ms = int(float(settings["digit_timeout_s"]) * 1000)
    wait_ms = int(float(settings["menu_wait_s"]) * 1000)

    @routes.register("status", timeout=float(settings["script_timeout_s"]))
    async def status(agi: AGIChannel) -> None:
        sounds = await agi.get_variable("SOUNDS") or ""
        zh = f"{sounds}/zh"
        uniqueid = agi.request.uniqueid
        caller = agi.request.callerid
        mine = await own(caller, sounds=sounds) if own is not None and caller else StatusReply()
        if mine.say:
            await agi.stream_file(f"{zh}/status-own")
            for word in mine.say:
                await agi.stream_file(f"{zh}/{word}")
            key = (await agi.get_data(f"{zh}/status-own-more", digit_ms, 1)).digits
            _log.info("status line {uniqueid}: the caller's own tickets said, then {key!r}",
                      uniqueid=uniqueid, key=key)
            if key == TO_AGENT:
                return
            if key != ANOTHER:
                if (await agi.stream_file(f"{zh}/status-end", TO_AGENT)).digit != TO_AGENT:
                    await agi.set_variable(v.HOTLINE_STATUS_DONE, "1")
                return
        for attempt in range(1, tries + 1):
            number = await agi.get_data(f"{zh}/status-ask-number", digit_ms, NUMBER_KEYS)
            if number.digits == TO_AGENT:
                _log.info("status line {uniqueid}: 0, to an agent", uniqueid=uniqueid)
                return
            last4 = await agi.get_data(f"{zh}/status-ask-last4", digit_ms, 4)
            reply = await lookup(number.digits, last4.digits, sounds=sounds)
            if reply.retry_after_s is not None:
                _log.info("status line {uniqueid}: ticket throttled, to an agent",
                          uniqueid=uniqueid)
                await agi.stream_file(f"{zh}/status-busy")
                return
            if reply.say:
                for word in reply.say:
                    await agi.stream_file(f"{zh}/{word}")
                key = (await agi.stream_file(f"{zh}/status-end", TO_AGENT)).digit
                if key is None:
                    key = await agi.wait_for_digit(wait_ms)
                _log.info("status line {uniqueid}: answered on try {attempt}{then}",
                          uniqueid=uniqueid, attempt=attempt,
                          then=", then 0: to an agent" if key == TO_AGENT else "")
                if key != TO_AGENT:
                    await agi.set_variable(v.HOTLINE_STATUS_DONE, "1")
                return
            _log.info("status line {uniqueid}: not found on try {attempt}", uniqueid=uniqueid,
                      attempt=attempt)
            await agi.stream_file(f"{zh}/status-not-found")
        await agi.stream_file(f"{zh}/status-to-agent")
