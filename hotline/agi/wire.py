# -*- test-case-name: tests.agi.test_wire -*-
"""FastAGI's text formats: the variable block Asterisk opens with, and its reply lines.

Pure functions over bytes and strings, so the protocol stays small and the parsers can be fed
arbitrary input by property tests. Every failure is an L{AGIError} subclass, never a bare
C{ValueError}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from urllib.parse import parse_qsl, unquote

from hotline.agi.errors import (
    AGIDeadChannel,
    AGIError,
    AGIInvalidCommand,
    AGIProtocolError,
    AGIResultError,
    AGIUsageError,
)

__all__ = [
    "AGIReply",
    "AGIRequest",
    "decode_text",
    "parse_reply",
    "parse_variable_block",
    "request_from_variables",
]


def decode_text(raw: bytes) -> str:
    """Decode one line or block, tolerating what a carrier may put in a caller name.

    UTF-8 first; then GB18030 (the Chinese carriers' legacy encoding); then Latin-1, which maps
    every byte and so never fails. Never raises.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_variable_block(block: bytes) -> dict[str, str]:
    """Parse the C{agi_name: value} lines Asterisk sends before the first command.

    @param block: the bytes before the blank line (without it); C{\\r\\n} is tolerated.
    @return: the variables by name, as sent (C{agi_uniqueid}, C{agi_arg_1}, ...).
    @raise AGIProtocolError: no C{agi_*} variable at all (an HTTP probe, a port scanner).
    """
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        # Decode per line, so one GB18030 caller name does not garble the others.
        text = "\n".join([decode_text(raw) for raw in block.split(b"\n")])
    if "\r" in text:
        text = text.replace("\r", "")
    lines = text.split("\n")
    try:
        # Every line in the form Asterisk always sends: one C-level pass.
        variables: dict[str, str] = dict(map(str.split, lines, repeat(": "), repeat(1)))
    except ValueError:
        variables = _parse_lines_leniently(lines)
    if "agi_request" not in variables and not any(n.startswith("agi_") for n in variables):
        raise AGIProtocolError("not a FastAGI variable block (no agi_* variable)",
                               details={"block": block[:200]})
    return variables


def _parse_lines_leniently(lines: list[str]) -> dict[str, str]:
    """The slow path: skip lines without a colon, accept C{name:value} without the space."""
    variables: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        name = name.strip()
        if sep and name:
            variables[name] = value[1:] if value[:1] == " " else value
    return variables


@dataclass(frozen=True, slots=True)
class AGIRequest:
    """What Asterisk told us about the call before the first command.

    @ivar variables: every C{agi_*} variable as sent.
    @ivar script: the script path of C{agi_network_script}, without slashes or query
        (C{"inbound"} for C{agi://controller/inbound?lang=zh}).
    @ivar query: the query arguments of the script path (C{{"lang": "zh"}}); the last wins when
        a name repeats.
    @ivar args: C{agi_arg_1} .. C{agi_arg_N}, the dialplan's C{AGI(url,arg1,arg2)} arguments.
    """

    variables: Mapping[str, str]
    script: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    def get(self, name: str, default: str = "") -> str:
        """One variable, by its full name (C{"agi_channel"}) or without C{agi_} (C{"channel"})."""
        value = self.variables.get(name)
        if value is None:
            value = self.variables.get("agi_" + name, default)
        return value

    @property
    def uniqueid(self) -> str:
        """The channel's C{Uniqueid}, which every log line of the call carries."""
        return self.variables.get("agi_uniqueid", "")

    @property
    def callerid(self) -> str:
        """The caller's number as the trunk presented it (C{"unknown"} when withheld)."""
        return self.variables.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        """The caller's name as presented, possibly GB18030 decoded."""
        return self.variables.get("agi_calleridname", "")

    @property
    def channel(self) -> str:
        """The channel name (C{PJSIP/trunk-00000001})."""
        return self.variables.get("agi_channel", "")

    @property
    def extension(self) -> str:
        """The dialled extension (C{83658365} for the hotline)."""
        return self.variables.get("agi_extension", "")

    @property
    def context(self) -> str:
        """The dialplan context the AGI was called from."""
        return self.variables.get("agi_context", "")

    @property
    def language(self) -> str:
        """The channel's language at the time of the call."""
        return self.variables.get("agi_language", "")


def request_from_variables(variables: dict[str, str]) -> AGIRequest:
    """Build the L{AGIRequest}: split the script path from its query, collect the arguments."""
    raw = variables.get("agi_network_script", "")
    path, _, query_text = raw.partition("?")
    if "%" in path:
        path = unquote(path)
    script = path.strip().strip("/")
    query: dict[str, str] = {}
    if query_text:
        if "%" in query_text or "+" in query_text or ";" in query_text:
            query = dict(parse_qsl(query_text, keep_blank_values=True))
        else:
            for pair in query_text.split("&"):
                if pair:
                    name, _, value = pair.partition("=")
                    query[name] = value
    args: list[str] = []
    n = 1
    while True:
        value = variables.get(f"agi_arg_{n}")
        if value is None:
            break
        args.append(value)
        n += 1
    return AGIRequest(variables=variables, script=script, query=query, args=tuple(args))


@dataclass(frozen=True, slots=True)
class AGIReply:
    """A successful (C{200}) reply: C{200 result=N (data) endpos=M}.

    @ivar result: the C{result=} value, as text: usually an integer, but C{GET DATA} returns the
        digits typed, possibly none.
    @ivar data: the text in parentheses, or C{None} when there was none.
    @ivar endpos: the C{endpos=} sample offset of playback commands, or C{None}.
    @ivar line: the raw line, for logs.
    """

    result: str
    data: str | None = None
    endpos: int | None = None
    line: str = ""

    def result_int(self) -> int:
        """C{result} as an integer.

        @raise AGIProtocolError: it is not one.
        """
        try:
            return int(self.result)
        except ValueError:
            raise AGIProtocolError(f"non-numeric result in {self.line!r}",
                                   details={"line": self.line}) from None


_OK_PREFIX = "200 result="


def parse_reply(line: str) -> AGIReply:
    """Parse one reply line (without its newline) into an L{AGIReply}, or raise its error.

    The multi-line C{520-} form is assembled by the protocol, which then raises
    L{AGIUsageError} itself; a single-line C{520} is handled here.

    @raise AGIResultError: C{200 result=-1}: the command failed (often: the channel hung up).
    @raise AGIInvalidCommand: C{510}.
    @raise AGIDeadChannel: C{511}.
    @raise AGIUsageError: C{520}.
    @raise AGIError: any other status code.
    @raise AGIProtocolError: not a reply line at all.
    """
    if line.startswith(_OK_PREFIX):
        rest = line[11:]
        space = rest.find(" ")
        if space < 0:
            if rest == "-1":
                raise AGIResultError(f"command failed: {line}", result=rest,
                                     details={"line": line})
            return AGIReply(rest, None, None, line)
        result = rest[:space]
        tail = rest[space + 1:].strip()
        data: str | None = None
        endpos: int | None = None
        if tail.startswith("("):
            close = tail.rfind(")")
            if close < 0:
                data = tail[1:]
                tail = ""
            else:
                data = tail[1:close]
                tail = tail[close + 1:].strip()
        if tail.startswith("endpos="):
            digits = tail[7:].split(" ", 1)[0]
            try:
                endpos = int(digits)
            except ValueError:
                endpos = None
        if result == "-1":
            raise AGIResultError(f"command failed: {line}", result=result,
                                 details={"line": line, "data": data, "endpos": endpos})
        return AGIReply(result, data, endpos, line)
    code = line[:3]
    details: dict[str, object] = {"line": line}
    if code == "510":
        raise AGIInvalidCommand(line[4:] or "Invalid or unknown command", details=details)
    if code == "511":
        raise AGIDeadChannel(line[4:] or "Command Not Permitted on a dead channel",
                             details=details)
    if code == "520":
        raise AGIUsageError(line[4:] or "Invalid command syntax", details=details)
    if len(line) >= 4 and code.isdigit() and code.isascii() and line[3] in " -":
        raise AGIError(f"unexpected AGI status {code}: {line[4:]}", details=details)
    raise AGIProtocolError(f"not an AGI reply line: {line[:200]!r}", details=details)
