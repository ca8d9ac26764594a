# -*- test-case-name: tests.bridge.test_outcomes -*-
"""How a department's leg ended, named; and the bridge's domain errors.

A failed ``Originate`` is described twice by Asterisk: the ``OriginateResponse`` event's
``Reason`` (the last control frame the outgoing channel saw) and, when a channel existed, the
``Hangup`` event's ISDN ``Cause``. The cause is the more precise of the two, so it wins.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ANSWERED", "NO_ANSWER", "BUSY", "CONGESTION", "UNREACHABLE", "FAILED", "FAILURES",
           "NOTICE_PROMPT", "REASON_TEXT", "outcome_of", "BridgeError", "NoSuchCall",
           "NotBridgeable", "NoRoom", "NoSuchEntry"]

ANSWERED, NO_ANSWER, BUSY, CONGESTION, UNREACHABLE, FAILED = (
    "answered", "no_answer", "busy", "congestion", "unreachable", "failed")
#: Outcomes after which the entry's next fallback number is worth a try.
FAILURES = (NO_ANSWER, BUSY, CONGESTION, UNREACHABLE, FAILED)

#: The prompt played into the room for each failure (hotline/pbx/prompts.py).
NOTICE_PROMPT = {NO_ANSWER: "bridge-noanswer", BUSY: "bridge-busy",
                 CONGESTION: "bridge-congestion", UNREACHABLE: "bridge-unreachable",
                 FAILED: "bridge-unreachable"}
#: What the agent's console says.
REASON_TEXT = {ANSWERED: "已接通", NO_ANSWER: "无人接听", BUSY: "对方忙",
               CONGESTION: "线路拥塞", UNREACHABLE: "号码无法接通", FAILED: "呼叫失败",
               "left": "已离开"}

# ISDN causes (Hangup "Cause").
_BUSY_CAUSES = {17}
_NO_ANSWER_CAUSES = {18, 19, 21}
_CONGESTION_CAUSES = {34, 38, 41, 42, 44, 47}
_UNREACHABLE_CAUSES = {1, 2, 3, 22, 27, 28}
# OriginateResponse "Reason": enum ast_control_frame_type of the last frame seen.
_REASON_BUSY, _REASON_CONGESTION, _REASON_RINGING, _REASON_HANGUP = 5, 8, 3, 1


def outcome_of(*, cause: int | None, reason: int | None, rang: bool) -> str:
    """Name the failure of a department's leg that never answered.

    >>> outcome_of(cause=17, reason=5, rang=False)
    'busy'
    >>> outcome_of(cause=None, reason=3, rang=True)
    'no_answer'
    >>> outcome_of(cause=3, reason=1, rang=False)
    'unreachable'
    >>> outcome_of(cause=None, reason=8, rang=False)
    'congestion'
    """
    if cause in _BUSY_CAUSES:
        return BUSY
    if cause in _CONGESTION_CAUSES:
        return CONGESTION
    if cause in _UNREACHABLE_CAUSES:
        return UNREACHABLE
    if cause in _NO_ANSWER_CAUSES:
        return NO_ANSWER
    if reason == _REASON_BUSY:
        return BUSY
    if reason == _REASON_CONGESTION:
        return CONGESTION
    if rang or reason == _REASON_RINGING:
        return NO_ANSWER
    return UNREACHABLE if reason in (None, 0, _REASON_HANGUP) else FAILED


class BridgeError(Exception):
    """A bridge cannot be made or changed; nothing was changed. Carries an ``error_id``."""

    error_id = "bridge-error"
    status = 409

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": str(self), "details": self.details}


class NoSuchCall(BridgeError):
    """No live call by that id (never was, or it ended)."""

    error_id = "no-such-call"
    status = 404


class NotBridgeable(BridgeError):
    """The call is live but not talking with an agent (waiting, ringing, already bridging)."""

    error_id = "call-not-bridgeable"


class NoRoom(BridgeError):
    """The call is in no bridge room, or the room lacks the party asked about."""

    error_id = "no-bridge-room"


class NoSuchEntry(BridgeError):
    """No directory entry by that id or number."""

    error_id = "no-such-entry"
    status = 404
