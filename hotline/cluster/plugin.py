# -*- test-case-name: tests.cluster.test_view -*-
"""Wire the cluster view: with several nodes, follow every other node's PBX and answer the
console's, the wallboard's and the API's questions over all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.cluster.links import peer_link
from hotline.cluster.lost import LostCalls
from hotline.cluster.peers import PeerView
from hotline.cluster.service import ClusterCallService
from hotline.pbx.topology import nodes

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["load"]


def load(deps: Dependencies) -> None:
    """With ``cluster.nodes`` > 1 and a PBX link, put a L{ClusterCallService} over this
    node's L{CallService} in C{deps.calls}, with a L{PeerView} per other node in
    C{deps.peers} (started and stopped by the controller)."""
    config = deps.config
    if config["cluster"]["nodes"] == 1 or deps.ami is None or deps.calls is None:
        return
    if isinstance(deps.calls, ClusterCallService):
        return
    me = config["cluster"]["node"]
    peers = []
    for node in nodes(config):
        if node.number == me:
            continue
        peers.append(PeerView(node=node, ami=peer_link(config, node, deps.reactor),
                              clock=deps.reactor,
                              queue_name=config["queue"]["name"], bus=deps.bus))
    deps.peers = peers
    deps.calls = ClusterCallService(own=deps.calls, node=me, peers=peers)
    LostCalls(ami=deps.ami, db=deps.db).start()
