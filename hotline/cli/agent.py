# -*- test-case-name: tests.sim.test_cli -*-
"""``hotline agent login|logout|pause|resume|ready|list``: an agent's seat in the queue, on
record (``ready`` ends after-call work, 话后整理, early)."""

from __future__ import annotations

import argparse
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.reactor import pbx_and_database, react
from hotline.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="log agents in and out of the queue, pause and resume them")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    login = verbs.add_parser("login", help="put an agent in the queue")
    login.add_argument("code", help="agent code, e.g. 1001")
    login.add_argument("--name", help="the agent's name, recorded with the code")
    logout = verbs.add_parser("logout", help="take an agent out of the queue")
    logout.add_argument("code")
    pause = verbs.add_parser("pause", help="stop ringing an agent for a while")
    pause.add_argument("code")
    pause.add_argument("--reason", required=True, help="why (shown to supervisors)")
    resume = verbs.add_parser("resume", help="ring a paused agent again")
    resume.add_argument("code")
    ready = verbs.add_parser("ready", help="end an agent's after-call work (整理中) early")
    ready.add_argument("code")
    verbs.add_parser("list", help="every agent on record and their state")
    p.set_defaults(func=_agent)


def _agent(args: argparse.Namespace, cfg: Config) -> int:
    return react(lambda reactor: _act(reactor, cfg, args))


async def _act(reactor: Any, cfg: Config, args: argparse.Namespace) -> None:
    from hotline.agents import AgentError, AgentService
    from hotline.pbx.topology import node_of_seat, node_seats

    seats = node_seats(cfg)
    if cfg["cluster"]["nodes"] > 1 and args.verb != "list" and args.code not in seats \
            and args.code in cfg["queue"]["agents"]:
        raise CommandError(f"seat {args.code} belongs to node {node_of_seat(cfg, args.code)}'s "
                           f"PBX: `hotline --node {node_of_seat(cfg, args.code)} agent ...`")
    async with pbx_and_database(reactor, cfg) as (db, ami):
        service = AgentService(ami=ami, db=db, queue=cfg["queue"]["name"], agents=seats)
        try:
            if args.verb == "login":
                shown = [await service.login(args.code, name=args.name)]
            elif args.verb == "logout":
                shown = [await service.logout(args.code)]
            elif args.verb == "pause":
                shown = [await service.pause(args.code, args.reason)]
            elif args.verb == "resume":
                shown = [await service.resume(args.code)]
            elif args.verb == "ready":
                shown = [await service.end_wrap_up(args.code)]
            else:
                shown = await service.status()
        except AgentError as e:
            raise CommandError(str(e)) from None
        for status in shown:
            since = f" since {status.since:%Y-%m-%d %H:%M:%S}Z" if status.since else ""
            reason = f" ({status.reason})" if status.reason else ""
            print(f"agent {status.code} {status.name}: {status.state}{reason}{since}")
