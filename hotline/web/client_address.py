# -*- test-case-name: tests.web.test_console -*-
"""Where a console request comes from, when the console may sit behind a proxy.

Behind a site's TLS proxy every request's peer is the proxy. ``[web] trusted_proxies`` lists the
proxies' addresses (or networks); for a request whose peer is one of them, the client is the
nearest address in ``X-Forwarded-For`` (read from the right) that is not a trusted proxy. A
header from anyone else is ignored: it is whatever the client chose to write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["Network", "parse_networks", "client_address", "is_trusted"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """``["10.0.0.5", "10.1.0.0/16"]`` as networks; raises ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an address or network") from None
    return networks


def is_trusted(address: str, proxies: Sequence[Network]) -> bool:
    """Whether ``address`` is one of the trusted proxies."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str, forwarded_for: Sequence[bytes] | None,
                   proxies: Sequence[Network]) -> str:
    """The client's address: ``peer``, or behind a trusted proxy the nearest untrusted one of
    ``X-Forwarded-For`` (every header line, in order)."""
    if not proxies or not forwarded_for or not is_trusted(peer, proxies):
        return peer
    hops = [h.strip() for line in forwarded_for
            for h in line.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled chain: trust nothing in it
        if not is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
