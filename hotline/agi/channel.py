# -*- test-case-name: tests.agi.test_channel -*-
"""The typed API an AGI script drives its call with: one method per AGI command."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hotline.agi.errors import AGIResultError, AGIUsageError
from hotline.agi.wire import AGIReply, AGIRequest

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

__all__ = [
    "AGIChannel",
    "CommandSender",
    "DigitResult",
    "GetDataResult",
    "format_command",
    "quote_argument",
]


class CommandSender(Protocol):
    """What L{AGIChannel} needs from the connection: send one command line, get its reply."""

    def send_command(self, line: bytes) -> Deferred[AGIReply]:
        """Queue C{line} (with its newline); fires with the reply or fails with an AGIError."""


def quote_argument(value: str | int) -> str:
    """Quote one command argument the way Asterisk's C{parse_args} reads it back.

    The only place arguments are escaped: the value is double-quoted with backslash and double
    quote backslash-escaped, so spaces, quotes and Chinese text arrive intact.

    @raise AGIUsageError: the value holds a newline, carriage return or NUL: Asterisk ends a
        command at the newline, so the rest would run as a second, injected command.
    """
    text = value if isinstance(value, str) else str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise AGIUsageError(f"refusing to send an AGI argument with a line break: {text[:80]!r}",
                            details={"argument": text[:200]})
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    return f'"{text}"'


#: What L{AGIChannel.set_variables} sends through one C{MSet}: nothing MSet would split or
#: the dialplan parser would read (commas, quotes, parentheses, C{$}, spaces).
_PLAIN_NAME = re.compile(r"_{0,2}[A-Za-z][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.:/+@-]*")


def format_command(command: str, *args: str | int) -> bytes:
    """The wire bytes of one command: its fixed words, then each argument quoted, then newline.

    @param command: the command's words (C{"GET VARIABLE"}), sent as they are.
    @raise AGIUsageError: see L{quote_argument}.
    """
    if not args:
        return (command + "\n").encode("utf-8")
    try:
        plain = "".join(args)  # type: ignore[arg-type]  # all text: the usual case
        texts: tuple[str, ...] | list[str] = args  # type: ignore[assignment]
    except TypeError:
        texts = [a if isinstance(a, str) else str(a) for a in args]
        plain = "".join(texts)
    if "\\" in plain or '"' in plain or "\n" in plain or "\r" in plain or "\0" in plain:
        line = command + " " + " ".join([quote_argument(a) for a in texts]) + "\n"
    else:  # nothing to escape or refuse: just the quotes (most commands)
        line = command + ' "' + '" "'.join(texts) + '"\n'
    return line.encode("utf-8")


@dataclass(frozen=True, slots=True)
class DigitResult:
    """The outcome of a prompt that can be interrupted by a key.

    @ivar digit: the key pressed (C{"0"}-C{"9"}, C{"*"}, C{"#"}), or C{None}.
    @ivar endpos: the sample offset playback stopped at, when Asterisk reports it.
    """

    digit: str | None
    endpos: int | None = None


@dataclass(frozen=True, slots=True)
class GetDataResult:
    """The outcome of C{GET DATA}: the digits typed and whether input ended by timing out."""

    digits: str
    timed_out: bool


def _digit(result: int) -> str | None:
    return chr(result) if result > 0 else None


class AGIChannel:
    """One call, as a script sees it. Each coroutine method sends one command and awaits it.

    Failures are the exceptions of L{hotline.agi.errors}: C{AGIHangup} once the caller is gone,
    C{AGIResultError} for C{result=-1}, C{AGIUsageError} for an argument we refuse to send.
    """

    __slots__ = ("request", "_sender")

    def __init__(self, sender: CommandSender, request: AGIRequest) -> None:
        """
        @param sender: the connection (normally the L{FastAGIProtocol}).
        @param request: the parsed variable block, script path and arguments.
        """
        self.request = request
        self._sender = sender

    async def command(self, command: str, *args: str | int) -> AGIReply:
        """Send any AGI command (arguments quoted) and return its C{200} reply.

        The escape hatch for commands without a method of their own.
        """
        return await self._sender.send_command(format_command(command, *args))

    async def answer(self) -> None:
        """Answer the channel (no-op on an answered channel)."""
        await self.command("ANSWER")

    async def get_variable(self, name: str) -> str | None:
        """A channel variable's value, or C{None} when it is not set (C{result=0})."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate an expression with functions (C{${CALLERID(num)}}), or C{None} if unset."""
        if channel is None:
            reply = await self.command("GET FULL VARIABLE", expression)
        else:
            reply = await self.command("GET FULL VARIABLE", expression, channel)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str | int) -> None:
        """Set a channel variable (use the names in L{hotline.agi.variables})."""
        await self.command("SET VARIABLE", name, value)

    async def set_variables(self, pairs: Iterable[tuple[str, str | int]]) -> None:
        """Set several channel variables, in one round trip when they allow it.

        One C{EXEC MSet} sets them all when every name and value is plain (letters, digits,
        C{_}, C{-}, C{.}, C{/}, C{:}, C{+}, C{@}; a value may be empty): MSet splits its
        arguments on commas and would misread anything else. Otherwise one C{SET VARIABLE}
        each, which quotes what it must. The variables are set in the order given either way.
        """
        items = [(name, value if isinstance(value, str) else str(value))
                 for name, value in pairs]
        if not items:
            return
        if len(items) > 1 and all(_PLAIN_NAME.fullmatch(n) and _PLAIN_VALUE.fullmatch(v)
                                  for n, v in items):
            await self.exec("MSet", *(f"{n}={v}" for n, v in items))
            return
        for name, value in items:
            await self.set_variable(name, value)

    async def exec(self, application: str, *args: str | int) -> int:
        """Run a dialplan application with comma-joined arguments; returns its result.

        @raise AGIResultError: the application does not exist (C{-2}) or failed (C{-1}).
        """
        if args:
            reply = await self.command("EXEC", application,
                                       ",".join(a if isinstance(a, str) else str(a) for a in args))
        else:
            reply = await self.command("EXEC", application)
        result = reply.result_int()
        if result == -2:
            raise AGIResultError(f"no such application {application!r}", result=reply.result,
                                 details={"line": reply.line})
        return result

    async def stream_file(self, filename: str, escape_digits: str = "",
                          offset: int | None = None) -> DigitResult:
        """Play a sound file; returns the key that interrupted it (if any) and C{endpos}."""
        if offset is None:
            reply = await self.command("STREAM FILE", filename, escape_digits)
        else:
            reply = await self.command("STREAM FILE", filename, escape_digits, offset)
        return DigitResult(_digit(reply.result_int()), reply.endpos)

    async def get_data(self, filename: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> GetDataResult:
        """Play a prompt and collect digits until C{#}, C{max_digits} or the timeout."""
        args: list[str | int] = [filename]
        if timeout_ms is not None or max_digits is not None:
            args.append(timeout_ms if timeout_ms is not None else 0)
        if max_digits is not None:
            args.append(max_digits)
        reply = await self.command("GET DATA", *args)
        return GetDataResult(digits=reply.result, timed_out=reply.data == "timeout")

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Say a number digit by digit; returns the key that interrupted it, if any."""
        reply = await self.command("SAY DIGITS", digits, escape_digits)
        return _digit(reply.result_int())

    async def wait_for_digit(self, timeout_ms: int = -1) -> str | None:
        """Wait for one key (C{-1}: forever); returns it, or C{None} on timeout."""
        reply = await self.command("WAIT FOR DIGIT", timeout_ms)
        return _digit(reply.result_int())

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write a line to the Asterisk console/log at verbosity C{level}."""
        await self.command("VERBOSE", message, level)

    async def hangup(self, channel: str | None = None) -> None:
        """Hang up this channel (or the named one)."""
        if channel is None:
            await self.command("HANGUP")
        else:
            await self.command("HANGUP", channel)

    async def database_get(self, family: str, key: str) -> str | None:
        """Read Asterisk's AstDB entry C{family/key}, or C{None} when it does not exist."""
        reply = await self.command("DATABASE GET", family, key)
        return reply.data if reply.result == "1" else None

    async def database_put(self, family: str, key: str, value: str | int) -> None:
        """Write Asterisk's AstDB entry C{family/key}.

        @raise AGIResultError: Asterisk could not store it (C{result=0}).
        """
        reply = await self.command("DATABASE PUT", family, key, value)
        if reply.result != "1":
            raise AGIResultError(f"DATABASE PUT {family}/{key} failed", result=reply.result,
                                 details={"line": reply.line})
