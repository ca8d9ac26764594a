# -*- test-case-name: tests.tickets.test_incidents -*-
"""``hotline incident list|show|confirm|dispatch|reply``: incidents (同类事件批量处理) from the
command line, as a console account (``--as USER``) with the console's checks and audit."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.ticket import acting_as, console_user, run_unit

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("incident", help="incidents: similar tickets confirmed, dispatched and "
                                        "replied as one (同类事件)")
    isub = p.add_subparsers(dest="incident_command", metavar="ACTION")
    isub.required = True
    lst = isub.add_parser("list", help="proposed groups (supervisors) and confirmed incidents")
    acting_as(lst)
    lst.set_defaults(func=_list)
    show = isub.add_parser("show", help="one incident: its tickets and n of N citizens reached")
    show.add_argument("incident", type=int)
    acting_as(show)
    show.set_defaults(func=_show)
    c = isub.add_parser("confirm", help="group two or more tickets into one incident")
    c.add_argument("tickets", nargs="+", help="ticket numbers (RX...) or ids")
    c.add_argument("--title")
    acting_as(c)
    c.set_defaults(func=lambda a, cfg: _act(a, cfg, "confirm", lambda incidents: (
        incidents.confirm, {"tickets": a.tickets, "title": a.title})))
    d = isub.add_parser("dispatch", help="dispatch every ticket of the incident to one "
                                         "department")
    d.add_argument("incident", type=int)
    d.add_argument("--department", required=True, metavar="CODE")
    d.add_argument("--instruction")
    acting_as(d)
    d.set_defaults(func=lambda a, cfg: _act(a, cfg, "dispatch", lambda incidents: (
        incidents.dispatch, a.incident,
        {"department": a.department, "instruction": a.instruction})))
    r = isub.add_parser("reply", help="the department's one reply to every ticket; every "
                                      "citizen is called back")
    r.add_argument("incident", type=int)
    r.add_argument("--text", required=True)
    acting_as(r)
    r.set_defaults(func=lambda a, cfg: _act(a, cfg, "reply", lambda incidents: (
        incidents.reply, a.incident, {"text": a.text})))


def _service(cfg: Any) -> Any:
    from hotline.tickets.clock import DeadlineRules
    from hotline.tickets.service import TicketService

    return TicketService(timezone=cfg["site"]["timezone"],
                         rules=DeadlineRules.from_settings(cfg["tickets"]))


def _act(args: argparse.Namespace, cfg: Any, action: str,
         pick: Callable[[Any], tuple[Any, ...]]) -> int:
    from hotline.tickets import incidents
    from hotline.tickets.exceptions import TicketError

    user = console_user(cfg, args)
    service = _service(cfg)
    work, *rest = pick(incidents)
    try:
        data = run_unit(cfg, lambda s: work(s, service, user, *rest, ip="cli"))
    except TicketError as e:
        target = str(getattr(args, "incident", "")) or None
        run_unit(cfg, incidents.audit_refusal, user, action, target, e, ip="cli")
        raise CommandError(e.message) from None
    return _print(data, cfg)


def _read(args: argparse.Namespace, cfg: Any, work: Callable[..., Any], *rest: Any) -> Any:
    from hotline.tickets.exceptions import TicketError

    user = console_user(cfg, args)
    service = _service(cfg)
    try:
        return run_unit(cfg, lambda s: work(s, service, user, *rest))
    except TicketError as e:
        raise CommandError(e.message) from None


def _print(i: dict[str, Any], cfg: Any) -> int:
    p = i["progress"]
    print(f"incident {i['id']}: {i['title']}  {i['status']}  {i['ticket_count']} tickets  "
          f"department {', '.join(i['departments']) or '-'}  "
          f"reached {p['reached']} of {p['total']}")
    for t in i.get("tickets", []):
        print(f"  {t['number']:<18} {t['status']:<11} {t['department'] or '-':<6} "
              f"{t['description'][:40]}")
    return 0


def _list(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import incidents

    data = _read(args, cfg, incidents.overview)
    for n, p in enumerate(data["proposals"], 1):
        print(f"proposal {n}: {p['kind']}/{p['category']} {p['grid'] or p['address'] or ''}: "
              + " ".join(t["number"] for t in p["tickets"]))
    for i in data["incidents"]:
        p = i["progress"]
        print(f"incident {i['id']}: {i['title']}  {i['status']}  {i['ticket_count']} tickets  "
              f"reached {p['reached']} of {p['total']}")
    if not data["proposals"] and not data["incidents"]:
        print("(none)")
    return 0


def _show(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import incidents

    return _print(_read(args, cfg, incidents.view, args.incident), cfg)
