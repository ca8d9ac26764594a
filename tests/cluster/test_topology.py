"""Who is where in a cluster: nodes, seats and each node's configuration."""

from __future__ import annotations

import pytest

from hotline import config as config_mod
from hotline.pbx import topology


def _cfg(text: str = "") -> config_mod.Config:
    return config_mod.loads(text, source="test")


def test_one_node_is_the_plain_pbx():
    """Without a cluster there is one node: the PBX at pbx.address with every seat."""
    cfg = _cfg()
    [node] = topology.nodes(cfg)
    assert (node.instance, node.address, node.seats) == ("pbx", "127.0.0.1",
                                                         ("1001", "1002", "1003", "1004"))
    assert topology.node_config(cfg) is cfg


def test_two_nodes_split_seats_ports_and_rtp():
    """Two nodes share the ports on their own addresses, split the RTP range and the seats."""
    cfg = _cfg("[cluster]\nnodes = 2\n")
    one, two = topology.nodes(cfg)
    assert (one.instance, two.instance) == ("pbx", "pbx2")
    assert (one.sip, two.sip) == ("127.0.1.1:15060", "127.0.1.2:15060")
    assert one.seats == ("1001", "1002") and two.seats == ("1003", "1004")
    assert one.rtp_end < two.rtp_start and two.rtp_end == cfg["pbx"]["rtp_end"]
    assert topology.node_of_seat(cfg, "1004") == 2


def test_seats_given_per_agent():
    """cluster.seats names each seat's node in queue.agents' order."""
    cfg = _cfg("[cluster]\nnodes = 2\nseats = [2, 1, 2, 1]\n")
    one, two = topology.nodes(cfg)
    assert one.seats == ("1002", "1004") and two.seats == ("1001", "1003")


def test_node_config_moves_the_controller_to_its_node():
    """Node 2's controller drives PBX 2 and listens on node 2's address; its seats are node 2's."""
    cfg = topology.node_config(_cfg("[cluster]\nnodes = 2\n"), 2)
    assert cfg["pbx"]["address"] == cfg["agi"]["bind"] == cfg["web"]["bind"] == "127.0.1.2"
    assert "127.0.1.2" in cfg["agi"]["allow"]
    assert topology.node_seats(cfg) == ("1003", "1004")


@pytest.mark.parametrize("text, problem", [
    ("[cluster]\nnodes = 9\n", "cluster.nodes"),
    ("[cluster]\nnodes = 2\nnode = 3\n", "cluster.node"),
    ("[cluster]\nnodes = 2\nseats = [1, 2]\n", "cluster.seats"),
    ("[cluster]\nedge_address = \"edge\"\n", "cluster.edge_address"),
])
def test_bad_cluster_settings_are_explained(text, problem):
    """A cluster setting that cannot work is refused with the setting named."""
    with pytest.raises(config_mod.ConfigError) as e:
        _cfg(text)
    assert problem in str(e.value)
