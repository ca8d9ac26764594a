# -*- test-case-name: tests.tickets.test_cli -*-
"""``hotline department list|duty``: the departments and the duty numbers reminder calls and
督办 notices are called to."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.ticket import acting_as, console_user, run_unit


def register(sub: argparse._SubParsersAction) -> None:
    dep = sub.add_parser("department", help="departments and their duty numbers (reminder "
                                            "calls go there)")
    dsub = dep.add_subparsers(dest="department_command", metavar="ACTION")
    dsub.required = True
    dl = dsub.add_parser("list", help="departments with their duty numbers")
    dl.set_defaults(func=_departments)
    du = dsub.add_parser("duty", help="set a department's duty number (--clear to remove)")
    du.add_argument("code")
    du.add_argument("number", nargs="?")
    du.add_argument("--clear", action="store_true")
    acting_as(du)
    du.set_defaults(func=_duty)


def _departments(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.life_api import department_rows

    for d in run_unit(cfg, department_rows):
        print(f"{d['code']:<8} {d['duty_number'] or '-':<14} {d['name']}")
    return 0


def _duty(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.exceptions import TicketError
    from hotline.tickets.life_api import set_duty_number
    from hotline.web.roles import SUPERVISION

    if bool(args.number) == bool(args.clear):
        raise CommandError("give the duty NUMBER, or --clear")
    user = console_user(cfg, args)
    if user.role not in SUPERVISION:
        raise CommandError(f"the role {user.role!r} may not set duty numbers")
    try:
        row = run_unit(cfg, set_duty_number, args.code, None if args.clear else args.number,
                   actor=user.username, role=user.role, ip="cli")
    except TicketError as e:
        raise CommandError(e.message) from None
    print(f"{row['code']} {row['name']}: duty number {row['duty_number'] or '(none)'}",
          file=sys.stdout)
    return 0
