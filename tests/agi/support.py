"""Shared pieces of the FastAGI tests: a recorded-style variable block and a session harness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent
from twisted.python.failure import Failure

from hotline.agi.routes import RouteTable
from hotline.agi.server import FastAGIFactory, FastAGIProtocol

#: What Asterisk 22 sends for C{AGI(agi://127.0.0.1/inbound?lang=zh,first,second arg)}.
VARIABLE_BLOCK = (
    "agi_network: yes\n"
    "agi_network_script: inbound?lang=zh\n"
    "agi_request: agi://127.0.0.1/inbound?lang=zh\n"
    "agi_channel: PJSIP/trunk-00000001\n"
    "agi_language: zh\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1718000000.1\n"
    "agi_version: 22.0.0\n"
    "agi_callerid: 13800138000\n"
    "agi_calleridname: 张三\n"
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: 83658365\n"
    "agi_rdnis: unknown\n"
    "agi_context: hotline-inbound\n"
    "agi_extension: 83658365\n"
    "agi_priority: 2\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140234567890\n"
    "agi_arg_1: first\n"
    "agi_arg_2: second arg\n"
    "\n"
).encode()


def block_for(script: str) -> bytes:
    """The standard block, asking for another script path."""
    return VARIABLE_BLOCK.replace(b"inbound?lang=zh", script.encode("utf-8"))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """C{data} cut into pieces of C{size} bytes, as a network might deliver it."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


class Session:
    """One protocol on a StringTransport, with its clock, routes and captured log events."""

    def __init__(self, *, routes: RouteTable | None = None, script_timeout: float = 3.0,
                 header_timeout: float = 10.0, host: str = "127.0.0.1",
                 allow: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.clock = Clock()
        self.routes = routes if routes is not None else RouteTable()
        self.events: list[dict[str, Any]] = []
        self.factory = FastAGIFactory(routes=self.routes, clock=self.clock, allow=allow,
                                      script_timeout=script_timeout,
                                      header_timeout=header_timeout,
                                      log=Logger(observer=self.events.append))
        address = IPv4Address("TCP", host, 40000)
        self.protocol: FastAGIProtocol | None = self.factory.buildProtocol(address)
        self.transport = StringTransport(peerAddress=address)
        if self.protocol is not None:
            self.protocol.makeConnection(self.transport)

    def feed(self, data: bytes, size: int | None = None) -> None:
        """Deliver C{data} whole or in pieces of C{size} bytes."""
        assert self.protocol is not None
        for piece in chunks(data, size or len(data) or 1):
            self.protocol.dataReceived(piece)

    def lose(self) -> None:
        """The peer's side of the close, which StringTransport never delivers by itself."""
        assert self.protocol is not None
        self.protocol.connectionLost(Failure(ConnectionError("closed")))

    def written(self) -> list[bytes]:
        """Lines the server wrote so far, each with its newline."""
        return self.transport.value().splitlines(keepends=True)

    def messages(self) -> list[str]:
        """The captured log events, formatted."""
        return [formatEvent(event) for event in self.events]
