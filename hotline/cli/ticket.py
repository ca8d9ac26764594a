# -*- test-case-name: tests.tickets.test_cli -*-
"""``hotline ticket show|list|dispatch|accept|return|extend|reply|follow-up|close|reopen|edit``:
the ticket's life after intake from the command line (``hotline calendar`` and ``hotline
department`` share its helpers).

Every step is taken as a console account (``--as USER``, or ``$HOTLINE_USER``), with the same
role and department checks, the same audit log and the same errors as the console: the command
line is one more screen, not a back door.
"""

from __future__ import annotations

import argparse
import datetime as dt
import mimetypes
import os
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError

__all__ = ["register", "acting_as", "run_unit", "console_user", "site_zone"]

_EDIT_FIELDS = ("kind", "category", "address", "grid", "description", "citizen_name", "phone")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ticket", help="a ticket's life after intake: show, list, dispatch, "
                                      "accept, return, extend, reply, follow-up, close, "
                                      "reopen, edit")
    tsub = p.add_subparsers(dest="ticket_command", metavar="ACTION")
    tsub.required = True

    def step(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = tsub.add_parser(name, help=help_text)
        cmd.add_argument("ticket", help="ticket number (RX...) or id")
        acting_as(cmd)
        cmd.add_argument("--version", type=int, help="the version you read (refused with the "
                                                     "current state if it changed since)")
        return cmd

    show = tsub.add_parser("show", help="a ticket with its light, clock, events and the steps "
                                        "you may take")
    show.add_argument("ticket", help="ticket number (RX...) or id")
    acting_as(show)
    show.set_defaults(func=_show)
    lst = tsub.add_parser("list", help="a worklist with lights: dispatch (派单), department, "
                                       "supervise (督办), follow-up (回访), mine")
    lst.add_argument("--list", dest="name", default="dispatch",
                     choices=["dispatch", "department", "supervise", "follow-up", "mine"])
    lst.add_argument("--department", metavar="CODE", help="the department (supervisors)")
    lst.add_argument("--limit", type=int, default=50)
    acting_as(lst)
    lst.set_defaults(func=_list)

    d = step("dispatch", "send to a lead department (and co-handling ones) with an "
                         "instruction (派单)")
    d.add_argument("--department", required=True, metavar="CODE", help="lead department (主办)")
    d.add_argument("--co", action="append", default=[], metavar="CODE",
                   help="a co-handling department (协办); repeat for more")
    d.add_argument("--instruction", help="what the department is asked to do")
    d.set_defaults(func=_step("dispatch", lambda a: {
        "department": a.department, "co_departments": a.co, "instruction": a.instruction}))
    a = step("accept", "the department takes the ticket up (签收)")
    a.add_argument("--text")
    a.set_defaults(func=_step("accept", lambda a: {"text": a.text}))
    r = step("return", "hand the ticket back to the dispatcher (退单)")
    r.add_argument("--reason", required=True)
    r.set_defaults(func=_step("return", lambda a: {"reason": a.reason}))
    x = step("extend", "ask for an extension (延期申请), or decide one (--approve/--refuse ID)")
    x.add_argument("--days", type=float, help="working days asked for")
    x.add_argument("--reason")
    decide = x.add_mutually_exclusive_group()
    decide.add_argument("--approve", type=int, metavar="EXTENSION", help="approve this request")
    decide.add_argument("--refuse", type=int, metavar="EXTENSION", help="refuse this request")
    x.add_argument("--note", help="the decision's note (required to refuse)")
    x.set_defaults(func=_extend)
    rp = step("reply", "the handling result (办理回复), with attachments")
    rp.add_argument("--text", required=True)
    rp.add_argument("--attach", action="append", default=[], metavar="FILE",
                    help="a file to attach; repeat for more")
    rp.set_defaults(func=_reply)
    f = step("follow-up", "record the follow-up with the citizen (回访)")
    verdict = f.add_mutually_exclusive_group()
    verdict.add_argument("--satisfied", dest="satisfied", action="store_true", default=None,
                         help="satisfied: the ticket is closed (办结)")
    verdict.add_argument("--not-satisfied", dest="satisfied", action="store_false",
                         help="not satisfied: reopened to the same department (不满意重办)")
    solved = f.add_mutually_exclusive_group()
    solved.add_argument("--solved", dest="solved", action="store_true", default=None)
    solved.add_argument("--not-solved", dest="solved", action="store_false")
    f.add_argument("--text", help="what the citizen said")
    f.set_defaults(func=_step("follow_up", lambda a: {
        "satisfied": a.satisfied, "solved": a.solved, "text": a.text}))
    c = step("close", "close the ticket (办结)")
    c.add_argument("--text")
    c.set_defaults(func=_step("close", lambda a: {"text": a.text}))
    ro = step("reopen", "reopen the ticket (重办)")
    ro.add_argument("--reason", required=True)
    ro.set_defaults(func=_step("reopen", lambda a: {"reason": a.reason}))
    dup = tsub.add_parser("duplicates", help="possible duplicates: of a filed ticket, or of what "
                                             "you would file (--category, --grid ...)")
    dup.add_argument("ticket", nargs="?", help="ticket number (RX...) or id")
    for name in ("category", "grid", "address", "description", "phone"):
        dup.add_argument(f"--{name}")
    acting_as(dup)
    dup.set_defaults(func=_duplicates)
    att = tsub.add_parser("attach", help="attach a caller to an existing open ticket as a "
                                         "co-reporter (一事多诉)")
    att.add_argument("ticket", help="ticket number (RX...) or id")
    att.add_argument("--phone", required=True)
    att.add_argument("--name", dest="citizen_name")
    att.add_argument("--call", dest="call_uniqueid", help="the call's uniqueid")
    att.add_argument("--text", help="what this caller said")
    acting_as(att)
    att.set_defaults(func=_attach)
    st = tsub.add_parser("status", help="where a ticket stands, as the citizen's status line "
                                        "says it (number + last four phone digits; no sign-in)")
    st.add_argument("ticket", help="ticket number (RX...)")
    st.add_argument("--last4", required=True, help="last four digits of the reporting phone")
    st.set_defaults(func=_status)
    e = step("edit", "correct fields; the history keeps old and new")
    for field in _EDIT_FIELDS:
        e.add_argument(f"--{field.replace('_', '-')}", dest=field)
    e.set_defaults(func=_step("edit", lambda a: {
        k: getattr(a, k) for k in _EDIT_FIELDS if getattr(a, k) is not None}))


def acting_as(p: argparse.ArgumentParser) -> None:
    """The `--as USER` option of every command that acts as a console account."""
    p.add_argument("--as", dest="user", default=os.environ.get("HOTLINE_USER"),
                   metavar="USER", help="the console account you act as (default $HOTLINE_USER)")


# -- plumbing ------------------------------------------------------------------------------------

def _actions(cfg: Any) -> Any:
    from hotline.tickets.actions import TicketActions
    from hotline.tickets.attachments import AttachmentStore
    from hotline.tickets.clock import DeadlineRules
    from hotline.tickets.service import TicketService

    settings = cfg["tickets"]
    service = TicketService(timezone=cfg["site"]["timezone"],
                            rules=DeadlineRules.from_settings(settings))
    store = AttachmentStore(cfg.state_dir / settings["attachment_dir"],
                            max_bytes=int(settings["attachment_max_bytes"]),
                            types=settings["attachment_types"])
    return TicketActions(service=service, attachments=store)


def run_unit(cfg: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(session, ...)`` in one unit of work on the configured database, its schema brought
    up to date first (a database that cannot be reached is one line: hotline.cli.database)."""
    from hotline.cli.database import unit_of_work

    with unit_of_work(cfg) as session:
        return fn(session, *args, **kwargs)


def console_user(cfg: Any, args: argparse.Namespace) -> Any:
    """The console account named by ``--as``; a one-line CommandError without one or for an
    unknown or disabled one."""
    from hotline.tickets.actions import principal_of
    from hotline.tickets.exceptions import TicketError

    if not args.user:
        raise CommandError("say which console account you act as: --as USER (or set "
                           "HOTLINE_USER)")
    try:
        return run_unit(cfg, principal_of, args.user)
    except TicketError as e:
        raise CommandError(e.message) from None


def _ticket_id(session: Any, ref: str) -> int:
    from sqlalchemy import select

    from db.models import Ticket
    from hotline.tickets.exceptions import NoSuchTicket

    if ref.isdigit():
        return int(ref)
    found = session.scalar(select(Ticket.id).where(Ticket.number == ref.strip().upper()))
    if found is None:
        raise NoSuchTicket(ref)
    return found


def _do(cfg: Any, args: argparse.Namespace, action: str,
        work: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Run a step; a refusal is audited in a unit of its own and becomes one clear line."""
    from hotline.tickets.exceptions import TicketError

    user = console_user(cfg, args)
    actions = _actions(cfg)
    try:
        return run_unit(cfg, lambda s: work(s, actions, user, _ticket_id(s, args.ticket)))
    except TicketError as e:
        run_unit(cfg, actions.audit_refusal, user, action, args.ticket, e, ip="cli")
        if e.error_id == "no-such-ticket":  # said as the user named it
            raise CommandError(f"no ticket {args.ticket} (or not yours to see)") from None
        detail = ""
        if e.error_id == "ticket-changed":
            now = e.details.get("ticket", {})
            detail = f" (now {now.get('status')}, version {now.get('version')})"
        raise CommandError(e.message + detail) from None


def site_zone(cfg: Any) -> zoneinfo.ZoneInfo:
    """The site's zone, in which times are shown."""
    return zoneinfo.ZoneInfo(cfg["site"]["timezone"])


def _local(value: str | None, zone: dt.tzinfo) -> str:
    return dt.datetime.fromisoformat(value).astimezone(zone).strftime("%m-%d %H:%M") \
        if value else "-"


def _said(view: dict[str, Any], cfg: Any) -> int:
    zone = site_zone(cfg)
    print(f"{view['number']}: {view['status']} (version {view['version']})"
          + (f", {view.get('department')}" if view.get("department") else "")
          + (f", due {_local(view.get('due_at'), zone)} [{view['light']}]"
             if view.get("due_at") and view.get("light") else ""))
    return 0


def _step(action: str, payload: Callable[[argparse.Namespace], dict[str, Any]]) -> Any:
    def run(args: argparse.Namespace, cfg: Any) -> int:
        body = {k: v for k, v in payload(args).items() if v is not None}
        if args.version is not None:
            body["version"] = args.version
        view = _do(cfg, args, action, lambda s, actions, user, tid: actions.perform(
            s, user, action, tid, body, ip="cli"))
        return _said(view, cfg)
    return run


# -- commands ------------------------------------------------------------------------------------

def _show(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.http import _ticket_dict

    args.version = None

    def read(s: Any, actions: Any, user: Any, tid: int) -> dict[str, Any]:
        ticket = actions.readable(s, user, tid)
        return {**_ticket_dict(ticket, user, events=True), **actions.extras(s, ticket, user)}
    t = _do(cfg, args, "show", read)
    zone = site_zone(cfg)
    co = ", ".join(d["code"] for d in t["co_departments"])
    print(f"{t['number']}  {t['kind_label']}  {t['status_label']} ({t['status']})  "
          f"version {t['version']}  light {t['light']}")
    print(f"  department {t['department'] or '-'}{f' (co: {co})' if co else ''}  "
          f"due {_local(t['due_at'], zone)}  reopened {t['reopen_count']}x")
    print(f"  citizen {t.get('caller_phone') or t.get('citizen_phone') or '-'}  "
          f"category {t['category'] or '-'}  address {t['address'] or '-'}")
    print(f"  {t['description']}")
    for e in t["events"]:
        print(f"  {_local(e['at'], zone)}  {e['actor']:<12} {e['action']:<18} {e['text'] or ''}")
    for a in t["attachments"]:
        print(f"  attachment {a['id']}: {a['filename']} ({a['size_bytes']} bytes)")
    for x in t["extensions"]:
        print(f"  extension {x['id']}: {x['days']:g} days, {x['status']}: {x['reason']}")
    print(f"  you may: {', '.join(t['actions']) or '(nothing now)'}")
    return 0


def _list(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.exceptions import TicketError

    if not 1 <= args.limit <= 200:
        raise CommandError("--limit must be from 1 to 200")
    user = console_user(cfg, args)
    actions = _actions(cfg)
    try:
        data = run_unit(cfg, actions.worklist, user, args.name, department=args.department,
                    limit=args.limit)
    except TicketError as e:
        raise CommandError(e.message) from None
    zone = site_zone(cfg)
    print(f"{'light':<7} {'ticket':<18} {'status':<11} {'dept':<6} {'due':<12} {'citizen':<12} "
          "description")
    for i in data["items"]:
        print(f"{i['light']:<7} {i['number']:<18} {i['status']:<11} {i['department'] or '-':<6} "
              f"{_local(i['due_at'], zone):<12} {i['citizen_phone'] or '-':<12} "
              f"{i['description'][:40]}")
    if not data["items"]:
        print("(none)")
    for x in data.get("extensions", []):
        print(f"extension {x['id']} for {x['ticket']}: {x['days']:g} days: {x['reason']}")
    return 0


def _extend(args: argparse.Namespace, cfg: Any) -> int:
    decision = args.approve if args.approve is not None else args.refuse
    if decision is not None:
        view = _do(cfg, args, "extension.decide", lambda s, actions, user, tid:
                   actions.decide_extension(s, user, decision, approve=args.approve is not None,
                                            note=args.note, version=args.version, ip="cli"))
        return _said(view, cfg)
    if args.days is None or not args.reason:
        raise CommandError("ask with --days N --reason TEXT, or decide with --approve/--refuse "
                           "EXTENSION")
    body: dict[str, Any] = {"days": args.days, "reason": args.reason}
    if args.version is not None:
        body["version"] = args.version
    view = _do(cfg, args, "extend", lambda s, actions, user, tid: actions.perform(
        s, user, "extend", tid, body, ip="cli"))
    return _said(view, cfg)


def _reply(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.actions import UploadedFile

    files = []
    for name in args.attach:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CommandError(f"cannot read {name}: {e}") from None
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append(UploadedFile(path.name, ctype, data))
    body: dict[str, Any] = {"text": args.text}
    if args.version is not None:
        body["version"] = args.version
    view = _do(cfg, args, "reply", lambda s, actions, user, tid: actions.perform(
        s, user, "reply", tid, body, ip="cli", files=files))
    return _said(view, cfg)


def _desk_user(cfg: Any, args: argparse.Namespace) -> Any:
    """The ``--as`` account, which must be a desk role (agent, supervisor, admin) as on the
    console; a refusal is audited."""
    from hotline.web import audit
    from hotline.web.roles import DESK

    user = console_user(cfg, args)
    if user.role not in DESK:
        run_unit(cfg, lambda s: audit.record(
            s, actor=user.username, role=user.role, action=f"ticket.{args.ticket_command}",
            target=getattr(args, "ticket", None), outcome="denied", ip="cli"))
        raise CommandError(f"{user.username} ({user.role}) may not do this: desk roles only")
    return user


def _duplicates(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.duplicates import duplicate_settings, load_query
    from hotline.tickets.exceptions import TicketError
    from hotline.tickets.http import ticket_duplicates

    _desk_user(cfg, args)
    service = _actions(cfg).service
    settings = duplicate_settings(cfg)
    try:
        if args.ticket:
            found = run_unit(cfg, lambda s: ticket_duplicates(s, service, _ticket_id(s, args.ticket),
                                                              settings))
        else:
            query = load_query({k: getattr(args, k) for k in
                                ("category", "grid", "address", "description", "phone")})
            found = run_unit(cfg, lambda s: service.duplicates(s, query, **settings).to_dict())
    except TicketError as e:
        raise CommandError(e.message) from None
    zone = site_zone(cfg)
    rows = found["candidates"] + found["own_open_tickets"]
    print(f"{'score':<6} {'ticket':<18} {'status':<11} {'why':<14} {'filed':<12} description")
    for c in rows:
        print(f"{c['score']:<6.2f} {c['number']:<18} {c['status']:<11} {c['reason']:<14} "
              f"{_local(c['created_at'], zone):<12} {c['description'][:40]}")
    if not rows:
        print("(none)")
    return 0


def _attach(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets.exceptions import TicketError
    from hotline.tickets.http import attach_call
    from hotline.web.routing import HTTPError

    user = _desk_user(cfg, args)
    service = _actions(cfg).service
    body = {k: getattr(args, k) for k in ("phone", "citizen_name", "call_uniqueid", "text")}
    try:
        view = run_unit(cfg, lambda s: attach_call(s, service, user, _ticket_id(s, args.ticket),
                                                   body, ip="cli"))
    except (TicketError, HTTPError) as e:
        raise CommandError(e.message) from None
    print(f"{view['number']}: {'co-reporter added' if view['added'] else 'already a reporter'}"
          f" ({len(view['reporters'])} co-reporters)")
    return 0


def _status(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.tickets import status
    from hotline.tickets.exceptions import TicketError

    service = _actions(cfg).service
    try:
        number, last4 = status.check_query(args.ticket, args.last4)
    except TicketError as e:
        raise CommandError(e.message) from None
    found = run_unit(cfg, status.public_status, number, last4, local=service.local)
    if found is None:
        raise CommandError("未找到 (no such ticket for these digits)")
    print(f"{found['number']}: {found['status_label']} ({found['status']})  "
          f"department {found['department'] or '-'}  due {found['due_local'] or '-'}")
    return 0
