# -*- test-case-name: tests.cluster.test_topology -*-
"""Who is where in a cluster: each node's PBX address, ports, RTP range and seats, and the
configuration one node's controller runs with. Pure: reads a Config, does no I/O.

A node is one hotline PBX and its controller. Every node listens on the same ports on an
address of its own (a host of its own at a site, a loopback address in the sandbox), so a
node's configuration differs from the site's only in ``pbx.address``, the seats in
``queue.agents``, its RTP range and where its controller listens.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.config import Config

__all__ = ["Node", "nodes", "node_of_seat", "node_config", "node_seats",
           "instance_name", "edge_uri"]


@dataclass(frozen=True)
class Node:
    """One hotline PBX and its controller.

    @ivar number: 1-based; node 1 is the PBX the single-node sandbox calls ``pbx``.
    @ivar instance: the sandbox instance's name (``pbx``, ``pbx2``, ...).
    @ivar seats: the agent codes whose phones register to this PBX.
    """

    number: int
    instance: str
    address: str
    sip_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    seats: tuple[str, ...]

    @property
    def sip(self) -> str:
        """``address:port`` of the node's SIP transport."""
        return f"{self.address}:{self.sip_port}"


def instance_name(number: int) -> str:
    """The sandbox instance of node ``number``.

    >>> instance_name(1), instance_name(2)
    ('pbx', 'pbx2')
    """
    return "pbx" if number == 1 else f"pbx{number}"


def _seat_nodes(config: Config) -> list[int]:
    """The node of each seat of ``queue.agents``, in order: ``cluster.seats`` when given, else
    contiguous blocks (four seats on two nodes: 1, 1, 2, 2)."""
    agents = config["queue"]["agents"]
    count = config["cluster"]["nodes"]
    given = config["cluster"]["seats"]
    if given:
        return list(given)
    per = -(-len(agents) // count) if agents else 1
    return [min(i // per + 1, count) for i in range(len(agents))]


def node_of_seat(config: Config, code: str) -> int:
    """The node whose PBX seat ``code`` registers to (1 when there is one node)."""
    agents = config["queue"]["agents"]
    if code not in agents:
        raise KeyError(code)
    return _seat_nodes(config)[agents.index(code)]


def nodes(config: Config) -> list[Node]:
    """Every node of the cluster, node 1 first; one node (``pbx.address``) without a cluster.

    The PBXs' RTP bind every address, so ``pbx.rtp_start``..``pbx.rtp_end`` is split evenly
    between the nodes."""
    pbx, cluster = config["pbx"], config["cluster"]
    count = cluster["nodes"]
    agents = config["queue"]["agents"]
    owners = _seat_nodes(config)
    width = (pbx["rtp_end"] - pbx["rtp_start"] + 1) // count
    out = []
    for n in range(1, count + 1):
        address = pbx["address"] if count == 1 else cluster["addresses"][n - 1]
        start = pbx["rtp_start"] + (n - 1) * width
        out.append(Node(number=n, instance=instance_name(n), address=address,
                        sip_port=pbx["sip_port"], ami_port=pbx["ami_port"], rtp_start=start,
                        rtp_end=start + width - 1,
                        seats=tuple(a for a, o in zip(agents, owners, strict=True) if o == n)))
    return out


def node_seats(config: Config) -> tuple[str, ...]:
    """The seats this controller's PBX owns (every seat when there is one node)."""
    if config["cluster"]["nodes"] == 1:
        return tuple(config["queue"]["agents"])
    return nodes(config)[config["cluster"]["node"] - 1].seats


def edge_uri(config: Config) -> str:
    """``address:port`` of the SIP edge (Kamailio) the carrier sends calls to."""
    cluster = config["cluster"]
    return f"{cluster['edge_address']}:{cluster['edge_port']}"


def node_config(config: Config, number: int | None = None) -> Config:
    """The configuration node ``number``'s controller runs with (default ``cluster.node``):
    its PBX's address, FastAGI and console on that address (its seats: L{node_seats}).
    Unchanged when there is one node."""
    if config["cluster"]["nodes"] == 1:
        return config
    number = number or config["cluster"]["node"]
    node = nodes(config)[number - 1]
    allow = list(dict.fromkeys([*config["agi"]["allow"], node.address]))
    return config.with_overrides({
        "cluster": {"node": number},
        "pbx": {"address": node.address},
        "agi": {"bind": node.address, "allow": allow},
        "web": {"bind": node.address},
    })
