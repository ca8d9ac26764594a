# -*- test-case-name: tests.agi.test_variables -*-
"""Names of the channel variables the controller and the hotline dialplan share.

Scripts and the dialplan meet only through these names, so they live in one place: a typo in a
literal would silently set a variable nobody reads. Values are always strings on the wire;
flags are C{"1"}/C{"0"}, counts and ids are decimal, empty means "not known".
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "HOTLINE_AGI_STATUS",
    "AGI_STATUS_OK",
    "AGI_STATUS_FAILED",
    "AGI_STATUS_TIMEOUT",
    "AGI_STATUS_BREAK",
    "AGI_STATUS_NOT_FOUND",
    "AGI_STATUSES",
    "HOTLINE_CALL_ID",
    "HOTLINE_CITIZEN_ID",
    "HOTLINE_CALLER_KNOWN",
    "HOTLINE_REPEAT_CALLER",
    "HOTLINE_OPEN_TICKETS",
    "HOTLINE_LAST_TICKET_ID",
    "HOTLINE_TICKET_ID",
    "HOTLINE_CALLBACK_ID",
    "HOTLINE_LANGUAGE",
    "HOTLINE_QUEUE",
    "HOTLINE_QUEUE_PRIORITY",
    "HOTLINE_RECORDING",
    "HOTLINE_RECORD",
    "HOTLINE_CALLBACK_FILED",
    "HOTLINE_MENU",
    "HOTLINE_STATUS_DONE",
    "HOTLINE_ROLE",
    "HOTLINE_SURVEY_SCORE",
    "HOTLINE_BRIDGE_REC",
    "HOTLINE_ROOM_REC",
    "HOTLINE_CITIZEN_CHANNEL",
    "HOTLINE_BRIDGE_NUMBER",
    "HOTLINE_SPY_TARGET",
    "HOTLINE_CAPTION_TARGET",
    "HOTLINE_CALLBACK_KEY",
    "HOTLINE_TICKET_NUMBER",
    "HOTLINE_CITIZEN",
    "HOTLINE_TRUNK",
    "HOTLINE_SURVEY_KEY",
    "HOTLINE_REMINDER_KEY",
    "REMINDER_SAY",
    "QUEUE_PRIO",
    "AGISTATUS",
]

#: Set by the server as the session ends, so the dialplan can branch on how the script went:
#: one of the C{AGI_STATUS_*} values below. The dialplan clears it before C{AGI()}; anything but
#: C{OK} afterwards (including empty: the controller was unreachable) means "carry on with the
#: defaults" — a citizen always reaches the queue.
HOTLINE_AGI_STATUS: Final = "HOTLINE_AGI_STATUS"
AGI_STATUS_OK: Final = "OK"
#: The script raised; logged with its traceback.
AGI_STATUS_FAILED: Final = "FAILED"
#: The script overran its time limit and was cancelled.
AGI_STATUS_TIMEOUT: Final = "TIMEOUT"
#: The script raised L{hotline.agi.errors.DialplanBreak} on purpose.
AGI_STATUS_BREAK: Final = "BREAK"
#: No script is registered under the requested name.
AGI_STATUS_NOT_FOUND: Final = "NOTFOUND"
AGI_STATUSES: Final = frozenset({
    AGI_STATUS_OK, AGI_STATUS_FAILED, AGI_STATUS_TIMEOUT, AGI_STATUS_BREAK, AGI_STATUS_NOT_FOUND,
})

#: The controller's id of this call's row (decimal); every later AMI event and log line of the
#: call carries it, and the console finds the caller's screen by it.
HOTLINE_CALL_ID: Final = "HOTLINE_CALL_ID"
#: The citizen's id when the caller number is known to the directory, else empty.
HOTLINE_CITIZEN_ID: Final = "HOTLINE_CITIZEN_ID"
#: C{"1"} when the caller number matches a known citizen, C{"0"} otherwise.
HOTLINE_CALLER_KNOWN: Final = "HOTLINE_CALLER_KNOWN"
#: C{"1"} when the same number called within the repeat window (the queue may prioritise it).
HOTLINE_REPEAT_CALLER: Final = "HOTLINE_REPEAT_CALLER"
#: How many of the caller's tickets are still open (decimal, C{"0"} when none).
HOTLINE_OPEN_TICKETS: Final = "HOTLINE_OPEN_TICKETS"
#: The caller's most recent ticket id, for the greeting and the console pop, else empty.
HOTLINE_LAST_TICKET_ID: Final = "HOTLINE_LAST_TICKET_ID"
#: The ticket a callback or survey call is about (set on outbound calls by the scheduler).
HOTLINE_TICKET_ID: Final = "HOTLINE_TICKET_ID"
#: The callback attempt being placed, so its outcome is recorded against it.
HOTLINE_CALLBACK_ID: Final = "HOTLINE_CALLBACK_ID"
#: Prompt language for this call (C{zh} by default), fed to C{CHANNEL(language)}.
HOTLINE_LANGUAGE: Final = "HOTLINE_LANGUAGE"
#: The queue the dialplan should send the call to.
HOTLINE_QUEUE: Final = "HOTLINE_QUEUE"
#: Priority in that queue (decimal; higher is answered first); copied to C{QUEUE_PRIO}.
HOTLINE_QUEUE_PRIORITY: Final = "HOTLINE_QUEUE_PRIORITY"
#: Path stem of the call's recordings, set by the dialplan before MixMonitor:
#: C{<stem>-mix.wav}, C{<stem>-citizen.wav} (what the caller said), C{<stem>-agent.wav}.
HOTLINE_RECORDING: Final = "HOTLINE_RECORDING"
#: Whether the dialplan records this call: C{0} when the recordings disk is nearly full
#: (L{hotline.calls.recording_space}); anything else, the controller's silence included, records.
HOTLINE_RECORD: Final = "HOTLINE_RECORD"
#: Set to C{1} by the overflow script once a callback is promised to a caller the queue could
#: not take; the dialplan then tells the caller so.
HOTLINE_CALLBACK_FILED: Final = "HOTLINE_CALLBACK_FILED"
#: The key a caller pressed at the menu after the greeting (2: the status line), set by the
#: dialplan's C{Read()}; empty when they pressed nothing and queued.
HOTLINE_MENU: Final = "HOTLINE_MENU"
#: Set to C{1} by the status script once the caller heard their ticket's status and did not ask
#: for an agent; the dialplan then says goodbye. Empty (the controller down included): queue.
HOTLINE_STATUS_DONE: Final = "HOTLINE_STATUS_DONE"
#: Who this channel is in the call, set by the dialplan: C{citizen}, C{agent}, C{department}.
HOTLINE_ROLE: Final = "HOTLINE_ROLE"
#: The digit a citizen pressed in the satisfaction survey.
HOTLINE_SURVEY_SCORE: Final = "HOTLINE_SURVEY_SCORE"

#: Path stem of a bridge department leg's own-voice recording (C{<stem>-department.wav}).
HOTLINE_BRIDGE_REC: Final = "HOTLINE_BRIDGE_REC"
#: Path of a bridge room's mixed recording (C{<room>-room.wav}).
HOTLINE_ROOM_REC: Final = "HOTLINE_ROOM_REC"
#: On a bridge's agent and department legs: the citizen's channel (their hangup handlers).
HOTLINE_CITIZEN_CHANNEL: Final = "HOTLINE_CITIZEN_CHANNEL"
#: On a bridge's department leg: the number dialled.
HOTLINE_BRIDGE_NUMBER: Final = "HOTLINE_BRIDGE_NUMBER"
#: On a supervisor's listening leg: the agent's channel ChanSpy listens to (hotline/floor/spy).
HOTLINE_SPY_TARGET: Final = "HOTLINE_SPY_TARGET"
#: On a live-caption fork: the channel whose own voice it streams (hotline/floor/captions).
HOTLINE_CAPTION_TARGET: Final = "HOTLINE_CAPTION_TARGET"
#: On a callback's agent leg: the attempt key (L{hotline.naming.attempt_key}).
HOTLINE_CALLBACK_KEY: Final = "HOTLINE_CALLBACK_KEY"
#: On callback and survey legs: the ticket's number, said to the agent.
HOTLINE_TICKET_NUMBER: Final = "HOTLINE_TICKET_NUMBER"
#: On a callback's agent leg: the citizen's number the dialplan dials once the agent answers.
HOTLINE_CITIZEN: Final = "HOTLINE_CITIZEN"
#: On a callback's agent leg: the trunk the citizen is dialled over.
HOTLINE_TRUNK: Final = "HOTLINE_TRUNK"
#: On a survey leg: the attempt key (L{hotline.naming.survey_key}).
HOTLINE_SURVEY_KEY: Final = "HOTLINE_SURVEY_KEY"
#: On a deadline reminder leg to a duty number: the attempt key (L{hotline.naming.reminder_key}).
HOTLINE_REMINDER_KEY: Final = "HOTLINE_REMINDER_KEY"
#: On a deadline reminder leg: the prompts it says, by name, joined by ``&``
#: (L{scheduler.deadlines.spoken_reminder}).
REMINDER_SAY: Final = "REMINDER_SAY"

#: Asterisk's own: the caller's priority in C{Queue()}.
QUEUE_PRIO: Final = "QUEUE_PRIO"
#: Asterisk's own: set by C{AGI()} itself (SUCCESS, FAILURE, NOTFOUND, HANGUP).
AGISTATUS: Final = "AGISTATUS"
