# -*- test-case-name: tests.bridge.test_cli -*-
"""``hotline bridge CALL_ID ENTRY``: bring a municipal hotline into a live call (三方通话).

The command acts directly over AMI and the database, with its own ``BridgeService`` (no running
controller needed, and no controller API to authenticate to): it finds the call's citizen and
agent channels from ``CoreShowChannels``, makes the room, dials the entry, and stays to follow
the room (printing each step and writing its rows) until the room ends. Ctrl-C only stops the
following: the PBX keeps the room, and its dialplan still sends a citizen left alone back to
the queue. The console calls the same ``bridge()`` on the controller's own service.

With several nodes (``hotline --node N bridge``) the command acts on whichever PBX holds the
call: it opens a link to every node's PBX it can reach (this node's first) and bridges through
the one whose channels show the call, as the console does (hotline/bridge/cluster.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.reactor import pbx_and_database, react
from hotline.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bridge", help="bring a municipal hotline into a live call (three-way)")
    p.add_argument("call_id", metavar="CALL_ID",
                   help="the call's id (as the console shows it) or its channel uniqueid")
    p.add_argument("entry", metavar="ENTRY",
                   help="the directory entry: its id or its number (`hotline directory ...`)")
    p.add_argument("--number", help="dial this one of the entry's numbers (a fallback) first")
    p.add_argument("--no-follow", action="store_true",
                   help="return once the department rings or fails, without following")
    p.set_defaults(func=_bridge)


def _bridge(args: argparse.Namespace, cfg: Config) -> int:
    return react(lambda reactor: _act(reactor, cfg, args))


async def _act(reactor: Any, cfg: Config, args: argparse.Namespace) -> None:
    from hotline.bridge.service import BridgeService
    from hotline.calls.tracker import CallTracker

    async with pbx_and_database(reactor, cfg) as (db, ami):
        peers = await _peer_links(reactor, cfg)
        services = []
        for link in [ami, *peers]:
            # The room is followed from the tracker's events; the call itself is looked up
            # over AMI (no tracker handed to the service: this one has seen no call arrive).
            tracker = CallTracker(ami=link, clock=reactor, queue_name=cfg["queue"]["name"])
            tracker.subscribe()
            service = BridgeService(config=cfg, ami=link, db=db, reactor=reactor,
                                    bus=tracker.bus)
            service.subscribe()
            services.append((service, tracker))
        try:
            await _follow([s for s, _ in services], args)
        finally:
            for service, tracker in services:
                await service.stop()
                tracker.stop()
            for link in peers:
                await link.stop()


async def _peer_links(reactor: Any, cfg: Config, timeout: float = 5.0) -> list[Any]:
    """Logged-in links to the other nodes' PBXs (none on a single node); a PBX that does not
    answer in ``timeout`` seconds is left out, with a note."""
    import sys

    from hotline.cluster.links import peer_link
    from hotline.pbx.topology import nodes

    links = []
    for node in nodes(cfg):
        if node.number == cfg["cluster"]["node"]:
            continue
        link = peer_link(cfg, node, reactor)
        link.start()
        try:
            await link.when_ready().addTimeout(timeout, reactor)
        except Exception:  # noqa: BLE001 - that PBX is down: its calls cannot be bridged
            print(f"node {node.number}'s PBX at {node.address} does not answer: left out",
                  file=sys.stderr)
            await link.stop()
            continue
        links.append(link)
    return links


async def _follow(services: list[Any], args: argparse.Namespace) -> None:
    """Bridge on the PBX holding the call, say how each department leg went, and follow the
    room unless told not to."""
    from hotline.bridge.outcomes import REASON_TEXT, BridgeError, NoSuchCall

    attempt = missing = None
    for service in services:
        try:
            attempt = await service.bridge(args.call_id, args.entry, number=args.number)
            break
        except NoSuchCall as e:  # not on this PBX (nothing changed): the next one
            missing = missing or e
        except BridgeError as e:
            raise CommandError(f"{e} ({e.error_id})") from None
    if attempt is None:
        assert missing is not None
        raise CommandError(f"{missing} ({missing.error_id})")
    room = attempt.room
    print(f"room {room.name}: citizen and agent moved in; dialling {room.entry_name} "
          f"{attempt.leg.number}", flush=True)
    for leg in _legs_as_they_come(room):
        outcome = await leg.done
        print(f"{leg.number}: {REASON_TEXT.get(outcome, outcome)} ({outcome})", flush=True)
        if outcome == "answered" or args.no_follow or leg is room.legs[-1] and (
                room.citizen_gone or not room.numbers_left() or not service.auto_fallback):
            break
    if not args.no_follow:
        print("following the room until it ends (Ctrl-C stops following only)", flush=True)
        await room.ended_d
        print(f"room {room.name} ended: {room.outcome}", flush=True)


def _legs_as_they_come(room: Any):
    """Each department leg of the room in order, including fallbacks dialled meanwhile."""
    i = 0
    while i < len(room.legs):
        yield room.legs[i]
        i += 1
