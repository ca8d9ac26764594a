# -*- test-case-name: tests.cluster.test_routing -*-
"""AMI links from this controller to the other nodes' PBXs, made in one place.

Two kinds, never mixed: the view's link (L{hotline.cluster.peers.PeerView}) reads every event
and never sends an action that changes anything; an acting link is a service's own (the bridge
on a call another PBX holds, the scheduler ringing a seat of another PBX), logs in with events
off and only sends actions. What happens on that PBX is still read from the view (Asterisk
sends an async Originate's result and the dialplan's UserEvents to every session), so an acting
link costs the PBX no second event stream, and a service that stops closes its own links.
"""

from __future__ import annotations

from typing import Any

from hotline.ami.client import AMIClient
from hotline.config import Config
from hotline.pbx.link import ami_credentials
from hotline.pbx.topology import Node

__all__ = ["peer_link", "acting_link"]


def peer_link(config: Config, node: Node, reactor: Any, *, events: str = "on") -> AMIClient:
    """An AMI link (not started) to node ``node``'s PBX, as this controller's own link is
    set up (user, secret, keepalive, action timeout)."""
    username, secret = ami_credentials(config)
    ami = config["ami"]
    return AMIClient(username=username, secret=secret, host=node.address,
                     port=node.ami_port if config["pbx"]["sandbox"] else ami["port"],
                     reactor=reactor, events=events, wait_booted=True,
                     max_message=int(ami["max_message_bytes"]),
                     event_filter=bool(ami["event_filter"]),
                     keepalive_interval=float(ami["keepalive_s"]),
                     action_timeout=float(ami["action_timeout_s"]))


def acting_link(config: Config, node: Node, reactor: Any) -> AMIClient:
    """A link (not started) to node ``node``'s PBX for a service that acts there: events off."""
    return peer_link(config, node, reactor, events="off")
