"""Benchmark floor on Twisted: the least a FastAGI server written on Twisted's reactor can do.

A bare C{Protocol}: no parsing beyond finding the blank line and each reply's newline, no
routing, no script, no Deferreds, the three commands fixed. What it costs is what the
reactor and its TCP transport cost per session; no Twisted server (ours included) goes below
it. Not a usable server.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agi_control import COMMANDS, report_when_told  # noqa: E402


def main() -> None:
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory, Protocol

    class Bare(Protocol):
        buffer = b""
        sent = 0

        def dataReceived(self, data: bytes) -> None:
            self.buffer += data
            if self.sent == 0:
                if b"\n\n" not in self.buffer:
                    return
            elif b"\n" not in self.buffer:
                return
            self.buffer = b""
            if self.sent == len(COMMANDS):
                self.transport.loseConnection()
                return
            self.transport.write(COMMANDS[self.sent])
            self.sent += 1

    port = reactor.listenTCP(0, Factory.forProtocol(Bare), backlog=512,  # type: ignore[attr-defined]
                             interface="127.0.0.1")
    report_when_told(port.getHost().port)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
