"""Replays recorded AMI sessions (tests/ami/transcripts/) against a protocol on a StringTransport."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.interfaces import IProtocol
from twisted.internet.testing import StringTransport

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


def load_transcript(name: str) -> list[tuple[str, bytes]]:
    """
    Read one transcript into (direction, bytes) steps: C{"C"} sent by us, C{"S"} by Asterisk.

    Each step is one whole message as it travelled (CRLF lines, blank line), or the banner.
    """
    steps: list[tuple[str, bytes]] = []
    current: list[str] = []
    direction = ""
    for raw in (TRANSCRIPTS / name).read_text("utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        side, _, line = raw.partition(":")
        if side not in ("C", "S"):
            raise ValueError(f"{name}: line without C:/S: {raw!r}")
        line = line[1:] if line.startswith(" ") else line
        if current and side != direction:
            raise ValueError(f"{name}: message changes direction without a blank line")
        direction = side
        if side == "S" and not current and line.startswith("Asterisk Call Manager/"):
            steps.append(("S", (line + "\r\n").encode("utf-8")))
            continue
        if line:
            current.append(line)
        else:
            steps.append((side, ("\r\n".join(current) + "\r\n\r\n").encode("utf-8")))
            current = []
    if current:
        raise ValueError(f"{name}: last message has no blank line")
    return steps


class TranscriptReplay:
    """
    Plays Asterisk's side of a transcript and checks ours byte for byte.

    C{pump} feeds Asterisk's messages while what we sent matches; it stops when the transcript
    waits for something we have not sent yet, so the test can act and pump again.
    """

    def __init__(self, name: str, *, chunk_size: int | None = None) -> None:
        """
        @param name: the file under tests/ami/transcripts/.
        @param chunk_size: feed Asterisk's bytes this many at a time (None: a message at once).
        """
        self.name = name
        self.steps = load_transcript(name)
        self.chunk_size = chunk_size
        self._checked = 0

    def pump(self, protocol: IProtocol, transport: StringTransport) -> bool:
        """Play as far as possible; return whether the whole transcript has been played."""
        while self.steps:
            side, data = self.steps[0]
            if side == "C":
                written = transport.value()[self._checked :]
                if len(written) < len(data):
                    if written != data[: len(written)]:
                        raise AssertionError(f"{self.name}: sent {written!r}, expected {data!r}")
                    return False
                if written[: len(data)] != data:
                    raise AssertionError(
                        f"{self.name}: sent {written[: len(data)]!r}, expected {data!r}"
                    )
                self._checked += len(data)
            else:
                size = self.chunk_size or len(data)
                for i in range(0, len(data), size):
                    protocol.dataReceived(data[i : i + size])
            self.steps.pop(0)
        return True

    def assert_finished(self) -> None:
        """Fail loudly when the session stopped before the end of the transcript."""
        if self.steps:
            side, data = self.steps[0]
            raise AssertionError(f"{self.name}: transcript waits for {side} {data[:120]!r}")
