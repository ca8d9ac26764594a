# -*- test-case-name: tests.web.test_limits -*-
"""How many connections the console holds open: in total, and per client address.

Each event stream holds a connection for as long as its page is open, and a client that opens
connections without sending anything holds them too. Past either cap a new connection is closed
at once, before any byte is read. A trusted proxy's address (``[web] trusted_proxies``) counts
only towards the total: every client behind it shares it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from hotline.web.client_address import Network, is_trusted

__all__ = ["ConnectionLimit"]

_log = Logger(namespace="hotline.web.connections")


class _Counted(ProtocolWrapper):
    def connectionLost(self, reason: Any) -> None:
        self.factory.released(self)
        super().connectionLost(reason)


class ConnectionLimit(WrappingFactory):
    """Wraps the console's Site: refuses connections past ``total`` or ``per_address``."""

    protocol = _Counted

    def __init__(self, site: Any, *, total: int, per_address: int,
                 trusted: Sequence[Network] = ()) -> None:
        super().__init__(site)
        self.total = total
        self.per_address = per_address
        self.trusted = list(trusted)
        self.by_address: dict[str, int] = {}
        self.refused = 0

    def buildProtocol(self, addr: Any) -> Any:
        host = str(getattr(addr, "host", ""))
        held = self.by_address.get(host, 0)
        if len(self.protocols) >= self.total or (
                held >= self.per_address and not is_trusted(host, self.trusted)):
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                _log.warn("console connection from {host} refused: {held} open from it, "
                          "{total} in all ({refused} refused so far)", host=host, held=held,
                          total=len(self.protocols), refused=self.refused)
            return None
        self.by_address[host] = held + 1
        wrapper = super().buildProtocol(addr)
        wrapper._counted_host = host
        return wrapper

    def released(self, wrapper: Any) -> None:
        host = getattr(wrapper, "_counted_host", None)
        if host is None:
            return
        wrapper._counted_host = None
        left = self.by_address.get(host, 1) - 1
        if left > 0:
            self.by_address[host] = left
        else:
            self.by_address.pop(host, None)
