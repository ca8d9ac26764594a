# -*- test-case-name: tests.scheduler.test_cli -*-
"""``hotline callbacks list | promise | run``: the timed replies from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import zoneinfo
from typing import Any

from hotline.cli.database import with_session
from hotline.cli.main import CommandError

_STATUSES = ("pending", "in_progress", "done", "failed", "cancelled")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("callbacks", help="timed replies: list them, promise one, run the "
                                         "scheduler")
    csub = p.add_subparsers(dest="callbacks_command", metavar="ACTION")
    csub.required = True
    lst = csub.add_parser("list", help="the callbacks, newest due first, with attempts and SLA")
    lst.add_argument("--status", choices=_STATUSES)
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_list)
    pr = csub.add_parser("promise", help="promise a reply to a ticket by a time")
    pr.add_argument("ticket", help="ticket number (RX...) or id")
    when = pr.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", help="site time, ISO: 2026-11-27T17:00")
    when.add_argument("--in", dest="in_s", type=float, metavar="SECONDS",
                      help="this many seconds from now")
    pr.add_argument("--owner", metavar="AGENT", help="only this agent (code) calls back, until "
                                                     "the hand-over time")
    pr.add_argument("--actor", default="cli")
    pr.set_defaults(func=_promise)
    run = csub.add_parser("run", help="run a scheduler node (one leads per database)")
    run.add_argument("--node", help="this node's name in logs (default host:pid)")
    run.set_defaults(func=_run)


def _local(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%m-%d %H:%M:%S") if value else "-"


def _list(args: argparse.Namespace, cfg: Any) -> int:
    from scheduler.store import list_callbacks

    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    zone = zoneinfo.ZoneInfo(cfg["site"]["timezone"])
    rows = with_session(cfg, list_callbacks, status=args.status, limit=args.limit)
    print(f"{'id':>5}  {'ticket':<18} {'citizen':<12} {'due':<15} {'owner':<6} "
          f"{'status':<12} {'tries':>5}  {'next':<15} {'SLA':<7} notes")
    for r in rows:
        status = {"done": "reached", "failed": "not reached"}.get(r.status, r.status)
        sla = "-" if r.sla_met is None else ("met" if r.sla_met else "missed")
        notes = [n for n, on in (("late", r.late), ("quiet-hours moved", r.quiet_hours_moved),
                                 ("handed over", r.handed_over),
                                 ("escalated", r.escalated)) if on]
        print(f"{r.id:>5}  {r.ticket_number:<18} {r.citizen:<12} {_local(r.due_at, zone):<15} "
              f"{r.owner or 'anyone':<6} {status:<12} {r.attempts:>5}  "
              f"{_local(r.next_attempt_at, zone):<15} {sla:<7} {', '.join(notes)}")
    if not rows:
        print("(no callbacks)")
    return 0


def _promise(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.exceptions import TicketError
    from hotline.tickets.schemas import BadPromise, promised_reply_time
    from scheduler.store import PromiseError, promise

    zone = zoneinfo.ZoneInfo(cfg["site"]["timezone"])
    if args.in_s is not None:
        if args.in_s <= 0:
            raise CommandError("--in must be a positive number of seconds")
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.in_s)
    else:
        try:
            at = promised_reply_time(args.at, now=dt.datetime.now(dt.UTC), zone=zone)
        except BadPromise as e:
            raise CommandError(f"--at: {e}") from None
    ticket: str | int = int(args.ticket) if args.ticket.isdigit() else args.ticket
    try:
        cb_id = with_session(cfg, promise, ticket, at.astimezone(dt.UTC), owner_code=args.owner,
                             actor=args.actor, timezone=cfg["site"]["timezone"])
    except (TicketError, PromiseError) as e:
        raise CommandError(str(e)) from None
    print(f"callback {cb_id}: reply to {args.ticket} promised by "
          f"{at.astimezone(zone):%Y-%m-%d %H:%M:%S}")
    return 0


def _run(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.cli.reactor import react
    from hotline.logging import start_logging
    from scheduler.policy import PolicyError, SchedulerPolicy
    from scheduler.runner import run_node

    try:  # settings first: a bad quiet-hours text is a one-line error, nothing started
        SchedulerPolicy(cfg["scheduler"], timezone=cfg["site"]["timezone"])
    except PolicyError as e:
        raise CommandError(f"scheduler settings: {e}") from None
    start_logging(cfg.state_dir / "logs")
    return react(lambda reactor: run_node(
        reactor, cfg, node=args.node,
        announce=lambda text: print(text, file=sys.stderr, flush=True)))
