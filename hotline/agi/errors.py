# -*- test-case-name: tests.agi.test_server -*-
"""The exceptions a FastAGI command can end in, one per class of Asterisk reply."""

from __future__ import annotations

__all__ = [
    "AGIError",
    "AGIProtocolError",
    "AGIInvalidCommand",
    "AGIDeadChannel",
    "AGIUsageError",
    "AGIHangup",
    "AGIResultError",
    "DialplanBreak",
]


class AGIError(Exception):
    """Base of every FastAGI failure, so a script can catch them all at once.

    @ivar error_id: a stable identifier for logs and metrics.
    @ivar details: what Asterisk said (the raw reply line(s)), for the log.
    """

    error_id = "agi-error"

    def __init__(self, message: str = "", *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, object] = details or {}


class AGIProtocolError(AGIError):
    """The peer sent bytes that are not a FastAGI variable block or reply line."""

    error_id = "agi-protocol"


class AGIInvalidCommand(AGIError):
    """Asterisk answered C{510 Invalid or unknown command}: our command was not recognised."""

    error_id = "agi-invalid-command"


class AGIDeadChannel(AGIError):
    """Asterisk answered C{511 Command Not Permitted on a dead channel}."""

    error_id = "agi-dead-channel"


class AGIUsageError(AGIError):
    """Asterisk answered C{520} (wrong syntax), or we refused to send an unsafe argument.

    @ivar usage: the usage text of a multi-line C{520} reply, or C{""}.
    """

    error_id = "agi-usage"

    def __init__(self, message: str = "", *, usage: str = "",
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message, details=details)
        self.usage = usage


class AGIHangup(AGIError):
    """The channel hung up (the C{HANGUP} notice) or the connection closed: no more commands."""

    error_id = "agi-hangup"


class AGIResultError(AGIError):
    """A command ran but failed: C{200 result=-1} (or C{-2}: application not found for EXEC).

    @ivar result: the C{result=} value Asterisk returned.
    """

    error_id = "agi-result"

    def __init__(self, message: str = "", *, result: str = "-1",
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message, details=details)
        self.result = result


class DialplanBreak(Exception):
    """Raised by a script that cannot go on: the server logs the reason and ends the session.

    Not an error of the wire, so not an L{AGIError}: it is how a script says "let the dialplan
    continue without me" (wazo-agid's C{DialplanExecutionException}).
    """
