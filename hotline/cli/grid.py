# -*- test-case-name: tests.grid.test_cli -*-
"""``hotline grid ...``: the district's map and its grid workers from the command line, through
the same services the console uses.

    hotline grid import FILE.geojson [--dry-run]   the map, checked whole (nothing changes on
                                                   any problem; every problem is listed)
    hotline grid export [-o FILE]                  the map in force as GeoJSON
    hotline grid show [CODE]                       the map in force, or one area and the areas in it
    hotline grid locate LAT LON | --address TEXT   which grid a point or an address is in
    hotline grid addresses import FILE.csv | export [-o FILE]
    hotline grid worker add USER --grid G001 [--name N] [--phone P] [--password-stdin]
    hotline grid worker list
    hotline grid report --user USER --category C --text T (--lat --lon | --address A) [--photo F]...
    hotline grid visit --user USER --subject household|key_person --visitee V --notes N
    hotline grid task send TICKET [--note N] [--actor A] | list [--open] | cancel ID
    hotline grid task answer ID --user USER --result confirmed|not_found|resolved --text T [--photo F]
    hotline grid log --user USER --text T [--day YYYY-MM-DD]
    hotline grid logs [--day YYYY-MM-DD]           every grid worker's log of a day
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grid", help="the district's map (streets to sub-grids) and its grid "
                                    "workers")
    g = p.add_subparsers(dest="grid_command", metavar="ACTION")
    g.required = True
    imp = g.add_parser("import", help="import a map (GeoJSON), all or nothing")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="check only, change nothing")
    imp.set_defaults(func=_import)
    exp = g.add_parser("export", help="write the map in force as GeoJSON")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.set_defaults(func=_export)
    show = g.add_parser("show", help="the map in force, or an area and what lies in it")
    show.add_argument("code", nargs="?")
    show.set_defaults(func=_show)
    loc = g.add_parser("locate", help="the grid of a point (LAT LON) or of an address")
    loc.add_argument("lat", nargs="?", type=float)
    loc.add_argument("lon", nargs="?", type=float)
    loc.add_argument("--address")
    loc.set_defaults(func=_locate)
    addr = g.add_parser("addresses", help="the address table tickets without coordinates "
                                          "are placed by")
    a = addr.add_subparsers(dest="addresses_command", metavar="ACTION")
    a.required = True
    ai = a.add_parser("import", help="add or update addresses (CSV: address, grid[, "
                                     "latitude, longitude]); all or nothing")
    ai.add_argument("file")
    ai.set_defaults(func=_addresses_import)
    ae = a.add_parser("export", help="the address table as CSV")
    ae.add_argument("-o", "--output")
    ae.set_defaults(func=_addresses_export)
    worker = g.add_parser("worker", help="grid workers' accounts")
    w = worker.add_subparsers(dest="worker_command", metavar="ACTION")
    w.required = True
    wa = w.add_parser("add", help="a grid_worker account bound to a level-1 grid (an existing "
                                  "grid_worker account is re-bound)")
    wa.add_argument("user")
    wa.add_argument("--grid", required=True, help="level-1 grid code, e.g. G001")
    wa.add_argument("--name", help="the worker's name (e.g. 王伟)")
    wa.add_argument("--phone")
    wa.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of standard input")
    wa.set_defaults(func=_worker_add)
    wl = w.add_parser("list", help="every grid worker, their grid and account")
    wl.set_defaults(func=_worker_list)
    rep = g.add_parser("report", help="report a problem as a grid worker")
    rep.add_argument("--user", required=True)
    rep.add_argument("--category", required=True)
    rep.add_argument("--text", required=True)
    rep.add_argument("--kind", default="help")
    rep.add_argument("--lat", type=float)
    rep.add_argument("--lon", type=float)
    rep.add_argument("--address")
    rep.add_argument("--photo", action="append", default=[], metavar="FILE")
    rep.add_argument("--key", help="idempotency key (default: a new one)")
    rep.set_defaults(func=_report)
    visit = g.add_parser("visit", help="record a visit (走访) as a grid worker")
    visit.add_argument("--user", required=True)
    visit.add_argument("--subject", required=True, choices=["household", "key_person"])
    visit.add_argument("--visitee", required=True)
    visit.add_argument("--notes", required=True)
    visit.add_argument("--key")
    visit.set_defaults(func=_visit)
    task = g.add_parser("task", help="verification tasks (核实)")
    t = task.add_subparsers(dest="task_command", metavar="ACTION")
    t.required = True
    ts = t.add_parser("send", help="send a ticket to its grid's worker to verify on site")
    ts.add_argument("ticket", help="ticket number (RX...) or id")
    ts.add_argument("--note")
    ts.add_argument("--actor", default=None, help="who sends it (default: cli:<login>)")
    ts.set_defaults(func=_task_send)
    tl = t.add_parser("list", help="verification tasks, newest first")
    tl.add_argument("--open", action="store_true")
    tl.set_defaults(func=_task_list)
    tc = t.add_parser("cancel", help="withdraw an open task")
    tc.add_argument("task", type=int)
    tc.set_defaults(func=_task_cancel)
    ta = t.add_parser("answer", help="answer a task as its grid worker")
    ta.add_argument("task", type=int)
    ta.add_argument("--user", required=True)
    ta.add_argument("--result", required=True, choices=["confirmed", "not_found", "resolved"])
    ta.add_argument("--text", required=True)
    ta.add_argument("--photo", action="append", default=[], metavar="FILE")
    ta.add_argument("--key")
    ta.set_defaults(func=_task_answer)
    log = g.add_parser("log", help="write a grid worker's daily log (民情日志)")
    log.add_argument("--user", required=True)
    log.add_argument("--text", required=True)
    log.add_argument("--day")
    log.set_defaults(func=_log)
    logs = g.add_parser("logs", help="every grid worker's log of a day")
    logs.add_argument("--day")
    logs.set_defaults(func=_logs)


@contextlib.contextmanager
def _unit(cfg: Any) -> Iterator[Any]:
    """One unit of work on the configured database (schema brought up to date first)."""
    from hotline.cli.database import unit_of_work
    from hotline.grid.exceptions import GridError
    from hotline.tickets.exceptions import TicketError

    try:
        with unit_of_work(cfg) as session:
            yield session
    except (GridError, TicketError) as e:
        raise CommandError(e.message) from None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _import(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid import maps
    from hotline.grid.exceptions import MapRefused
    from hotline.grid.mapfile import read_map

    try:
        district = read_map(_read(args.file))
        if args.dry_run:
            print(f"{args.file}: {district.name}: valid, {_counts(district.counts())} "
                  "(dry run: nothing imported)")
            return 0
        with _unit(cfg) as session:
            info = maps.import_map(session, district, actor=_actor())
            _audit(session, "grid.map.import", info.name, info.counts)
    except MapRefused as e:
        return _refused(args.file, e.problems)
    print(f"imported {info.name}: {_counts(info.counts)}"
          + (" (SAMPLE map: import the district's own to replace it)" if info.sample else ""))
    return 0


def _refused(path: str, problems: list[Any]) -> int:
    """Say a file was refused whole, one problem a line; the command's exit status."""
    print(f"hotline: {path}: refused, nothing changed; {len(problems)} problem(s):",
          file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _counts(counts: dict[str, int]) -> str:
    return (f"{counts.get('street', 0)} streets, {counts.get('community', 0)} communities, "
            f"{counts.get('grid', 0)} grids, {counts.get('sub_grid', 0)} sub-grids")


def _export(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid import maps

    with _unit(cfg) as session:
        data = maps.export_map(session)
    _write(json.dumps(data, ensure_ascii=False) + "\n", args.output)
    return 0


def _show(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid import maps
    from hotline.grid.schemas import LEVEL_LABELS

    with _unit(cfg) as session:
        info = maps.current_map(session)
        if args.code:
            area = maps.area_of(session, args.code)
            print(f"{LEVEL_LABELS[area.level]} {area.code} {area.name}"
                  + (f" (in {area.parent})" if area.parent else ""))
        elif info is None:
            print("no map imported yet (hotline grid import FILE.geojson)")
        else:
            print(f"{info.name}{' [SAMPLE]' if info.sample else ''}: {_counts(info.counts)}; "
                  f"imported {info.imported_at} by {info.actor}")
        for child in maps.children_of(session, args.code):
            print(f"  {LEVEL_LABELS[child.level]} {child.code} {child.name}")
    return 0


def _locate(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.locate import GridLocator

    if (args.lat is None or args.lon is None) and not args.address:
        raise CommandError("give LAT LON, or --address TEXT")
    with _unit(cfg) as session:
        placed = GridLocator().place(session, latitude=args.lat, longitude=args.lon,
                                     address=args.address)
    if placed is None:
        print("not in any grid of the map (and no known address)")
        return 1
    print(f"{placed.code} (level {placed.level}, by {placed.how})")
    return 0


def _addresses_import(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.exceptions import AddressesRefused
    from hotline.grid.locate import import_addresses

    try:
        text = _read(args.file).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"{args.file} is not UTF-8 text") from None
    try:
        with _unit(cfg) as session:
            result = import_addresses(session, text)
            _audit(session, "grid.addresses.import", args.file, result.__dict__)
    except AddressesRefused as e:
        return _refused(args.file, e.problems)
    print(f"addresses: {result.added} added, {result.updated} updated, "
          f"{result.unchanged} unchanged")
    return 0


def _addresses_export(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.locate import export_addresses

    with _unit(cfg) as session:
        text = export_addresses(session)
    _write(text, args.output)
    return 0


def _service(cfg: Any) -> Any:
    from hotline.grid.plugin import build_service

    return build_service(cfg)


def _worker_of(session: Any, service: Any, username: str) -> Any:
    from sqlalchemy import select

    from db.models import ConsoleUser

    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise CommandError(f"no console account {username!r}")
    return service.worker(session, user.id, username)


def _worker_add(args: argparse.Namespace, cfg: Any) -> int:
    from sqlalchemy import select

    from db.models import ConsoleUser
    from hotline.web import accounts
    from hotline.web.auth import WeakPassword

    service = _service(cfg)
    with _unit(cfg) as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == args.user))
        if user is None:
            from hotline.cli.user import _password

            try:
                accounts.create_user(session, args.user, role="grid_worker",
                                     password=_password(args), display_name=args.name)
            except (accounts.AccountError, WeakPassword) as e:
                raise CommandError(str(e)) from None
        worker = service.bind(session, args.user, args.grid, name=args.name, phone=args.phone)
        _audit(session, "grid.worker.bind", args.user, {"grid": args.grid})
        print(f"grid worker {args.user} ({worker.name}) bound to grid {args.grid}")
    return 0


def _worker_list(args: argparse.Namespace, cfg: Any) -> int:
    service = _service(cfg)
    with _unit(cfg) as session:
        for w in service.workers(session):
            print(f"{w['grid']:10} {w['name']:8} {w['user'] or '(no account)':20}")
    return 0


def _photos(service: Any, files: list[str]) -> list[Any]:
    return [service.photos.prepare(_read(f), name=f) for f in files]


def _report(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.schemas import load_report

    service = _service(cfg)
    request = load_report({"key": args.key or uuid.uuid4().hex, "category": args.category,
                           "description": args.text, "kind": args.kind, "latitude": args.lat,
                           "longitude": args.lon, "address": args.address},
                          now=service.clock())
    photos = _photos(service, args.photo)
    with _unit(cfg) as session:
        worker = _worker_of(session, service, args.user)
        filed = service.report(session, worker, request, photos, actor=f"grid:{args.user}")
        _audit(session, "grid.report", filed.number, {"key": request.key})
    print(f"{'filed' if filed.created else 'already filed'} {filed.number} in grid {filed.grid}")
    return 0


def _visit(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.schemas import load_visit

    service = _service(cfg)
    request = load_visit({"key": args.key or uuid.uuid4().hex, "subject": args.subject,
                          "visitee": args.visitee, "notes": args.notes}, now=service.clock())
    with _unit(cfg) as session:
        visit, created = service.record_visit(session, _worker_of(session, service, args.user),
                                              request)
        print(f"visit {visit.id} {'recorded' if created else 'already recorded'} in "
              f"{visit.grid.code}")
    return 0


def _ticket_id(session: Any, service: Any, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    return service.tickets.get_by_number(session, ref).id


def _task_send(args: argparse.Namespace, cfg: Any) -> int:
    service = _service(cfg)
    actor = args.actor or _actor()
    with _unit(cfg) as session:
        task = service.send_task(session, _ticket_id(session, service, args.ticket),
                                 actor=actor, note=args.note)
        _audit(session, "grid.verify", task.ticket.number, {"task": task.id})
        print(f"task {task.id}: {task.ticket.number} sent to {task.worker.name} to verify")
    return 0


def _task_list(args: argparse.Namespace, cfg: Any) -> int:
    service = _service(cfg)
    with _unit(cfg) as session:
        for t in service.tasks(session, None, open_only=args.open):
            answer = f" {t['result_label']}: {t['answer']}" if t["result"] else ""
            print(f"{t['id']:5} {t['ticket']['number']} {t['ticket']['grid'] or '-':8} "
                  f"{t['worker']:8} {t['status']:9}{answer}")
    return 0


def _task_cancel(args: argparse.Namespace, cfg: Any) -> int:
    service = _service(cfg)
    with _unit(cfg) as session:
        task = service.cancel_task(session, args.task, actor=_actor())
        _audit(session, "grid.verify.cancel", task.ticket.number, {"task": task.id})
    print(f"task {args.task} cancelled")
    return 0


def _task_answer(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.schemas import load_answer

    service = _service(cfg)
    request = load_answer({"key": args.key or uuid.uuid4().hex, "result": args.result,
                           "answer": args.text})
    photos = _photos(service, args.photo)
    with _unit(cfg) as session:
        task, created = service.answer_task(session, _worker_of(session, service, args.user),
                                            args.task, request, photos,
                                            actor=f"grid:{args.user}")
        print(f"task {task.id} {'answered' if created else 'already answered'}: {task.result}")
    return 0


def _log(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.schemas import load_log

    service = _service(cfg)
    request = load_log({"text": args.text, "day": args.day})
    with _unit(cfg) as session:
        log = service.write_log(session, _worker_of(session, service, args.user), request)
        print(f"log of {log.day} saved for {args.user}")
    return 0


def _logs(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.grid.service import day_logs

    service = _service(cfg)
    day = args.day or service.today()
    with _unit(cfg) as session:
        logs = day_logs(session, day)
    if not logs:
        print(f"no grid worker wrote a log on {day}")
    for log in logs:
        print(f"{log['grid']} {log['worker']}: {log['text']}")
    return 0


def _audit(session: Any, action: str, target: str, details: dict | None = None) -> None:
    from hotline.web import audit

    audit.record(session, actor=_actor(), action=action, target=target[:100], details=details)
