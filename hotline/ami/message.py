# -*- test-case-name: tests.ami.test_message -*-
"""One AMI message (a response or an event) as a forgiving, case-insensitive header mapping."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import NotImplementedType

__all__ = ["Message", "header_in_frame", "parse_variables"]

HeaderValue = str | list[str]


def parse_variables(values: str | Iterable[str] | None) -> dict[str, str]:
    """
    Turn AMI C{name=value} items (C{ChanVariable}, C{Variable}) into a dict.

    Items without C{=} map to C{""}; later items win, as in the dialplan.

    >>> parse_variables(["CALLERID(num)=138", "TICKET=42", "EMPTY"])
    {'CALLERID(num)': '138', 'TICKET': '42', 'EMPTY': ''}
    >>> parse_variables("A=1")
    {'A': '1'}
    >>> parse_variables(None)
    {}
    """
    if values is None:
        return {}
    if isinstance(values, str):
        values = [values]
    result: dict[str, str] = {}
    for item in values:
        name, _, value = item.partition("=")
        result[name] = value
    return result


class Message:
    """
    A response or an event, parsed from the wire lazily so streaming events stays cheap.

    The text is kept as received (lines joined by CRLF, without the blank line); headers are
    split out on first access. Lookup ignores case and a header that repeats becomes a list.

    >>> m = Message("Event: Newchannel\\r\\nUniqueid: 1.1\\r\\nChanVariable: A=1\\r\\nChanVariable: B=2")
    >>> m.name, m["uniqueid"], m.is_event
    ('Newchannel', '1.1', True)
    >>> m["ChanVariable"]
    ['A=1', 'B=2']
    >>> m.variables()
    {'A': '1', 'B': '2'}
    >>> m.get("Missing", "-")
    '-'
    >>> Message("Response: Success\\r\\nOutput: line 1\\r\\nOutput: ").output
    ['line 1', '']
    """

    __slots__ = ("raw", "event", "_headers", "_lower", "_extra", "_frame")

    def __init__(self, raw: str, event: str | None = None, frame: bytes | None = None) -> None:
        """
        @param raw: the message text, lines separated by CRLF, no trailing blank line.
        @param event: the event name when the framer already knows it (saves a lookup).
        @param frame: the UTF-8 bytes C{raw} was decoded from, lines ending CRLF, when the
            framer has them: one header is then read from the bytes (see L{header_in_frame}).
        @ivar event: the C{Event} header, or None for a response.
        """
        self.raw = raw
        self._frame = frame
        self._headers: dict[str, HeaderValue] | None = None
        # _lower and _extra are set by _parse, on first access to the headers.
        if event is None:
            if raw.startswith("Event: "):
                end = raw.find("\r\n")
                event = raw[7:] if end < 0 else raw[7:end]
            else:
                value = self.get("Event")
                event = value if value is None or isinstance(value, str) else value[0]
        self.event = event

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Message:
        """
        Build a message from C{(name, value)} pairs, as a test or a transcript would write it.

        @raise ValueError: a name or value holds CR or LF (it would forge another header).
        """
        lines = []
        for name, value in pairs:
            _check_header(name, value)
            lines.append(f"{name}: {value}")
        return cls("\r\n".join(lines))

    # -- identity ---------------------------------------------------------------------------

    @property
    def is_event(self) -> bool:
        """Whether this is an event (it has an C{Event} header)."""
        return self.event is not None

    @property
    def is_response(self) -> bool:
        """Whether this is the reply to an action (it has a C{Response} header)."""
        return self.event is None and "Response" in self

    @property
    def name(self) -> str:
        """The event name, or the response status (C{Success}, C{Error}, ...), or C{""}."""
        if self.event is not None:
            return self.event
        value = self.get("Response", "")
        return value if isinstance(value, str) else value[0]

    @property
    def action_id(self) -> str | None:
        """The C{ActionID} this message answers, if any."""
        value = self.get("ActionID")
        return value if value is None or isinstance(value, str) else value[0]

    @property
    def output(self) -> list[str]:
        """Lines of a C{Command} reply: the C{Output} headers Asterisk 22 sends, else bare lines."""
        if self._headers is None:
            self._parse()
        return self.getlist("Output") + list(self._extra)

    def variables(self, name: str = "ChanVariable") -> dict[str, str]:
        """The C{name=value} list held in header C{name}, as a dict."""
        return parse_variables(self.getlist(name))

    # -- mapping ----------------------------------------------------------------------------

    def _parse(self) -> dict[str, HeaderValue]:
        self._lower = None
        self._extra = ()
        lines = self.raw.split("\r\n")
        try:
            headers: dict[str, HeaderValue] = dict([line.split(": ", 1) for line in lines])
        except ValueError:
            headers = {}
        if len(headers) == len(lines):
            lower = {key.lower(): key for key in headers}
            if len(lower) == len(headers):
                self._lower = lower
            else:  # the same header in different cases: merge them the slow way
                headers = self._parse_slowly(lines)
        else:
            headers = self._parse_slowly(lines)
        self._headers = headers
        return headers

    def _parse_slowly(self, lines: list[str]) -> dict[str, HeaderValue]:
        headers: dict[str, HeaderValue] = {}
        lower: dict[str, str] = {}
        extra: list[str] = []
        for line in lines:
            name, sep, value = line.partition(":")
            name = name.strip()
            if not sep or not name:
                if line:
                    extra.append(line)
                continue
            if value.startswith(" "):
                value = value[1:]
            key = lower.get(name.lower())
            if key is None:
                lower[name.lower()] = name
                headers[name] = value
            else:
                old = headers[key]
                if isinstance(old, list):
                    old.append(value)
                else:
                    headers[key] = [old, value]
        self._lower = lower
        self._extra = extra
        return headers

    def _key(self, name: str) -> str | None:
        headers = self._headers if self._headers is not None else self._parse()
        if name in headers:
            return name
        lower = self._lower
        if lower is None:
            lower = self._lower = {}
            for key in headers:
                lower.setdefault(key.lower(), key)
        return lower.get(name.lower())

    def __getitem__(self, name: str) -> HeaderValue:
        key = self._key(name)
        if key is None:
            raise KeyError(name)
        return self._headers[key]  # type: ignore[index]

    def get(self, name: str, default: HeaderValue | None = None) -> HeaderValue | None:
        """The value of header C{name} (any case), C{default} when absent.

        Before the headers are parsed, one header that appears exactly once, spelt as asked
        (Asterisk's own spelling: C{Uniqueid}), is cut out of the frame's bytes (see
        L{header_in_frame}), else out of the text, without parsing the rest: most consumers
        of the event stream read one or two headers of each event.
        """
        if self._headers is None:
            frame = self._frame
            value = NotImplemented if frame is None else _header_in_frame(frame, name)
            if value is NotImplemented:
                value = self._find_in_text(name)
            if value is not None:
                return value
        key = self._key(name)
        return default if key is None else self._headers[key]  # type: ignore[index]

    def _find_in_text(self, name: str) -> str | None:
        """What L{header_in_frame} reads from the frame, read from the text: a header's value
        when it stands there once, in this spelling and in no other; None: "parse to know"."""
        tags = _TEXT_TAGS.get(name)
        if tags is None:
            tags = _text_tags(name)
        tag, lowered_tag, lowered_head = tags
        raw = self.raw
        at = raw.find(tag)
        if at < 0:
            return None
        # (Lowering text may change its length, so offsets are taken in the text itself.)
        lowered = raw.lower()
        if lowered.count(lowered_tag) != 1 or lowered.startswith(lowered_head):
            return None
        start = at + len(tag)
        end = raw.find("\r\n", start)
        return raw[start:] if end < 0 else raw[start:end]

    def getlist(self, name: str) -> list[str]:
        """Header C{name} as a list whether it appeared once, several times or not at all."""
        value = self.get(name)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def __iter__(self) -> Iterator[str]:
        headers = self._headers if self._headers is not None else self._parse()
        return iter(list(headers))

    def __len__(self) -> int:
        headers = self._headers if self._headers is not None else self._parse()
        return len(headers)

    def items(self) -> list[tuple[str, HeaderValue]]:
        """The headers in arrival order, repeated ones as lists."""
        headers = self._headers if self._headers is not None else self._parse()
        return list(headers.items())

    def as_dict(self) -> dict[str, HeaderValue]:
        """A plain copy of the headers (for logs and JSON)."""
        return dict(self.items())

    def serialize(self) -> bytes:
        """The message as it travels: UTF-8 lines ending CRLF and one blank line."""
        return (self.raw + "\r\n\r\n").encode("utf-8")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"<Message {self.name!r} {self.as_dict()!r}>"


#: What L{Message._find_in_text} looks for, by header name: CRLF name ": ", CRLF lowered
#: name ":", lowered name ":" (the first line).
_TEXT_TAGS: dict[str, tuple[str, str, str]] = {}


def _text_tags(name: str) -> tuple[str, str, str]:
    lowered = name.lower()
    tags = ("\r\n" + name + ": ", "\r\n" + lowered + ":", lowered + ":")
    if len(_TEXT_TAGS) < 256:  # names come from our code, but never grow without bound
        _TEXT_TAGS[name] = tags
    return tags


def header_in_frame(frame: bytes, name: str) -> str | None | NotImplementedType:
    """
    Header C{name}'s value read from a message's frame (its UTF-8 bytes, lines ending CRLF)
    when it stands there once, spelt as asked, and in no other spelling, nor as the first
    line (which has no CRLF before it); None when only parsing can tell (absent, repeated,
    spelt otherwise: parsing merges those).

    Bytes are searched and lowered several times faster than text that is not ASCII (a
    caller's name in Chinese), and lowering keeps their offsets. They answer for the text
    for a name that is ASCII: an ASCII run after CRLF in UTF-8 is that text, and lowering
    bytes finds every spelling C{str.lower} would, but for U+212A KELVIN SIGN, which lowers
    to "k" in text only. So: NotImplemented (read the text) for a name that is not ASCII,
    holds CR, LF or a colon, or is longer than 128; or that has a "k" in a frame that is not
    ASCII.

    This is the reference for, and the fallback of, the compiled L{_speedups.header_in_frame}.

    >>> header_in_frame("Event: X\\r\\nUniqueid: 1.2\\r\\nName: 张三".encode(), "Uniqueid")
    '1.2'
    >>> header_in_frame(b"Event: X\\r\\nUniqueid: 1.2\\r\\nUNIQUEID: 1.3", "Uniqueid") is None
    True
    """
    if not (name.isascii() and 0 < len(name) <= 128) or any(c in name for c in "\r\n:"):
        return NotImplemented
    lowered_name = name.lower()
    if "k" in lowered_name and not frame.isascii():
        return NotImplemented
    lowered = frame.lower()
    head = lowered_name.encode("ascii") + b":"
    tag = b"\r\n" + name.encode("ascii") + b": "
    at = frame.find(tag)
    if at < 0 or lowered.startswith(head) or lowered.count(b"\r\n" + head) != 1:
        return None
    start = at + len(tag)
    end = frame.find(b"\r\n", start)
    # Cut at ASCII bytes, the value is whole characters of UTF-8.
    return (frame[start:] if end < 0 else frame[start:end]).decode("utf-8")


try:
    from hotline.ami._speedups import header_in_frame as _header_in_frame
except ImportError:  # not built (a source tree run in place): the same answers, slower
    _header_in_frame = header_in_frame


def _check_header(name: str, value: str) -> None:
    if "\r" in name or "\n" in name or ":" in name or not name.strip():
        raise ValueError(f"bad AMI header name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header {name!r} has a line break in its value")
