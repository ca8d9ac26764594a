# -*- test-case-name: tests.tickets.test_cli -*-
"""``hotline calendar add|list|remove``: the site's working-day exceptions over China's public
holidays and adjusted working days (``hotline.tickets.calendar``), as a console account."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.ticket import acting_as, console_user, run_unit, site_zone


def register(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calendar", help="working days: the site's exceptions over China's "
                                          "public holidays and adjusted working days")
    csub = cal.add_subparsers(dest="calendar_command", metavar="ACTION")
    csub.required = True
    add = csub.add_parser("add", help="a local holiday (--holiday) or a day worked (--workday)")
    add.add_argument("day", help="YYYY-MM-DD")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--holiday", dest="workday", action="store_false")
    kind.add_argument("--workday", dest="workday", action="store_true")
    add.add_argument("--note")
    acting_as(add)
    add.set_defaults(func=_calendar_add)
    cl = csub.add_parser("list", help="days and whether they are worked, and why")
    cl.add_argument("--from", dest="first", metavar="YYYY-MM-DD")
    cl.add_argument("--to", dest="last", metavar="YYYY-MM-DD")
    cl.add_argument("--exceptions", action="store_true", help="only the site's exceptions")
    cl.set_defaults(func=_calendar_list)
    rm = csub.add_parser("remove", help="drop a site exception")
    rm.add_argument("day", help="YYYY-MM-DD")
    acting_as(rm)
    rm.set_defaults(func=_calendar_remove)


def _calendar_add(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import calendar
    from hotline.tickets.exceptions import TicketError
    from hotline.web import audit
    from hotline.web.roles import SUPERVISION

    user = console_user(cfg, args)
    if user.role not in SUPERVISION:
        raise CommandError(f"the role {user.role!r} may not change the calendar "
                           "(supervisor, admin)")

    def add(session: Any) -> Any:
        day = calendar.parse_day(args.day)
        stored = calendar.add_day(session, day, workday=args.workday, note=args.note,
                                  actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="calendar.add",
                     target=day.isoformat(), ip="cli",
                     details={"workday": args.workday, "note": args.note})
        return stored
    try:
        stored = run_unit(cfg, add)
    except TicketError as e:
        raise CommandError(e.message) from None
    print(f"{stored.day}: {'working day' if stored.workday else 'day off'} (site)"
          + (f": {stored.note}" if stored.note else ""))
    return 0


def _calendar_list(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import calendar
    from hotline.tickets.exceptions import TicketError

    today = dt.datetime.now(site_zone(cfg)).date()
    try:
        first = calendar.parse_day(args.first) if args.first else today
        last = calendar.parse_day(args.last) if args.last else first + dt.timedelta(days=30)
        days = run_unit(cfg, calendar.list_days, first, last, exceptions_only=args.exceptions)
    except TicketError as e:
        raise CommandError(e.message) from None
    for d in days:
        print(f"{d.day} {d.day:%a}  {'work' if d.workday else 'off '}  {d.source:<8} "
              f"{d.note or ''}")
    if not days:
        print("(none)")
    return 0


def _calendar_remove(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import calendar
    from hotline.tickets.exceptions import TicketError
    from hotline.web import audit
    from hotline.web.roles import SUPERVISION

    user = console_user(cfg, args)
    if user.role not in SUPERVISION:
        raise CommandError(f"the role {user.role!r} may not change the calendar")

    def remove(session: Any) -> bool:
        day = calendar.parse_day(args.day)
        gone = calendar.remove_day(session, day)
        audit.record(session, actor=user.username, role=user.role, action="calendar.remove",
                     target=day.isoformat(), ip="cli", outcome="ok" if gone else "failed")
        return gone
    try:
        gone = run_unit(cfg, remove)
    except TicketError as e:
        raise CommandError(e.message) from None
    if not gone:
        raise CommandError(f"no site exception on {args.day}")
    print(f"{args.day}: the national calendar applies again")
    return 0
