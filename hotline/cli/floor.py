# -*- test-case-name: tests.floor.test_cli -*-
"""``hotline floor spy CALL --seat S --mode listen|whisper|barge``: a supervisor listens to a
live call from the phone of seat S (监听, 耳语, 强插), as the floor view's buttons do.

The command acts over AMI with its own live view (rebuilt from the PBX at login) and audits
the use under the operating system's user name; it stays until the supervisor's phone hangs up
(on a desk phone 4, 5, 6 switch the mode). Ctrl-C only stops following: the phone's leg ends
when the supervisor hangs up or the call does.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.reactor import pbx_and_database, react
from hotline.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("floor", help="on the floor: listen to, whisper in or barge in on a call")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    spy = verbs.add_parser("spy", help="ring a seat's phone into a live call (ChanSpy)")
    spy.add_argument("call", metavar="CALL", help="the call's uniqueid (`hotline calls`)")
    spy.add_argument("--seat", required=True, help="the supervisor's seat whose phone rings")
    spy.add_argument("--mode", choices=["listen", "whisper", "barge"], default="listen")
    kept = verbs.add_parser("kept", help="kept places (keep-my-place callbacks), newest first")
    kept.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_floor)


def _floor(args: argparse.Namespace, cfg: Config) -> int:
    return react(lambda reactor: _act(reactor, cfg, args))


async def _act(reactor: Any, cfg: Config, args: argparse.Namespace) -> None:
    if args.verb == "kept":
        await _kept(reactor, cfg, args)
        return
    from twisted.internet import defer

    from hotline.calls.events import LegEnded
    from hotline.calls.tracker import CallTracker
    from hotline.floor.spy import SpyError, SpyService

    async with pbx_and_database(reactor, cfg) as (db, ami):
        tracker = CallTracker(ami=ami, clock=reactor, queue_name=cfg["queue"]["name"])
        tracker.subscribe()
        await tracker.resync(ami)
        service = SpyService(ami=ami, tracker=tracker, bus=tracker.bus, db=db, clock=reactor)
        service.subscribe()
        actor = f"cli:{getpass.getuser()}"
        try:
            session = await service.start(supervisor=actor, seat=args.seat, call=args.call,
                                          mode=args.mode, role="cli")
        except SpyError as e:
            raise CommandError(f"{e.message} ({e.error_id})") from None
        print(f"{session.mode.value}: ringing seat {args.seat}'s phone into call {args.call} "
              f"({session.id})", flush=True)
        ended: defer.Deferred[None] = defer.Deferred()
        tracker.bus.subscribe(LegEnded, lambda e: e.uniqueid == session.id
                              and not ended.called and ended.callback(None))
        try:
            await ended
        finally:
            service.stop()
            tracker.stop()
        print("the supervisor's phone hung up", flush=True)


async def _kept(reactor: Any, cfg: Config, args: argparse.Namespace) -> None:
    from twisted.internet import threads

    from db import migrate
    from db.session import Database
    from hotline.floor.keepplace import ORDERING, kept_places

    db = Database.from_config(cfg, reactor=reactor)
    await threads.deferToThread(migrate.upgrade, db.url)
    db.start()
    try:
        rows = await db.run(kept_places, args.limit)
    finally:
        await threads.deferToThread(db.stop)
    print(f"order: {ORDERING}")
    for r in rows:
        print(f"{r['key']}  {r['caller']}  joined {r['joined_at']}  {r['status']}"
              f"{'  agent ' + r['agent'] if r['agent'] else ''}"
              f"{'  callback ' + str(r['callback']) if r['callback'] else ''}"
              f"{'  ' + r['outcome'] if r['outcome'] else ''}")
