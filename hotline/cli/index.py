# -*- test-case-name: tests.indices.test_cli -*-
"""``hotline index update | show | trend | warnings | task | dismiss | topics | pick``: the leader's dimension
indices and early warnings from the command line, through the same functions as the pages."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from typing import Any

from hotline.cli.main import CommandError
from hotline.cli.ticket import acting_as, console_user, run_unit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="dimension indices (维度指数) and early warnings (风险预警)")
    isub = p.add_subparsers(dest="index_command", metavar="COMMAND")
    isub.required = True

    update = isub.add_parser("update", help="fold the days that can have changed since the "
                                            "last fold (the day in progress, days that got late "
                                            "rows) into the daily aggregate and scan for early "
                                            "warnings")
    update.add_argument("--rebuild", action="store_true",
                        help="fold every day again from the first ticket's")
    update.set_defaults(func=_update)

    show = isub.add_parser("show", help="the index table of a period")
    show.add_argument("--by", default="grid",
                      choices=["street", "community", "grid", "department", "category"])
    _period(show)
    show.add_argument("--format", choices=["table", "csv", "json"], default="table")
    show.set_defaults(func=_show)

    trend = isub.add_parser("trend", help="the district's (or a grid's) indices over time")
    _period(trend)
    trend.add_argument("--step", choices=["day", "week", "month"], default="day")
    trend.add_argument("--grid", metavar="CODE", help="one level-1 grid instead of the district")
    trend.add_argument("--format", choices=["table", "json"], default="table")
    trend.set_defaults(func=_trend)

    warnings = isub.add_parser("warnings", help="early warnings with their evidence")
    warnings.add_argument("--status", choices=["open", "tasked", "dismissed"])
    warnings.add_argument("--format", choices=["table", "json"], default="table")
    warnings.set_defaults(func=_warnings)

    task = isub.add_parser("task", help="turn a warning into a proactive task (未诉先办)")
    task.add_argument("warning", type=int, metavar="ID")
    acting_as(task)
    task.set_defaults(func=_task)

    dismiss = isub.add_parser("dismiss", help="close a warning without a task")
    dismiss.add_argument("warning", type=int, metavar="ID")
    acting_as(dismiss)
    dismiss.set_defaults(func=_dismiss)
    _register_topics(isub)


def _register_topics(isub: argparse._SubParsersAction) -> None:
    shortlist = isub.add_parser("topics", help="每月一题: a month's shortlist and the topics "
                                               "picked, with their follow-up")
    shortlist.add_argument("--month", metavar="YYYY-MM", help="default: this month")
    shortlist.add_argument("--format", choices=["table", "json"], default="table")
    shortlist.set_defaults(func=_topics)
    pick = isub.add_parser("pick", help="pick a grid × category as a month's topic")
    pick.add_argument("month", metavar="YYYY-MM")
    pick.add_argument("grid", metavar="GRID")
    pick.add_argument("category")
    pick.add_argument("--note", default=None)
    acting_as(pick)
    pick.set_defaults(func=_pick)


def _topics(args: argparse.Namespace, cfg: Any) -> int:
    import zoneinfo

    from hotline.indices import topics

    month = args.month or f"{dt.datetime.now(zoneinfo.ZoneInfo(cfg['site']['timezone'])):%Y-%m}"
    shortlist, chosen = _unit(cfg, lambda s: (topics.shortlist(s, month), topics.topics(s)))
    if args.format == "json":
        print(json.dumps({"month": month, "rule": topics.RULE, "shortlist": shortlist,
                          "topics": chosen}, ensure_ascii=False, indent=1))
        return 0
    print(topics.RULE)
    for n, c in enumerate(shortlist, 1):
        print(f"{n:>3} {c['grid']:8} {c['category']:8} {c['demands']:>6} "
              f"{_pct(c['satisfaction']):>7} {c['score']:>8}")
    for t in chosen:
        print(f"{t['month']} 每月一题: {t['grid']} {t['category']} ({t['picked_by']}) "
              + " ".join(f"{f['month']}:{f['demands']}" for f in t["follow"]))
    return 0


def _pick(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices import topics
    from hotline.web import audit
    from hotline.web.roles import LEADERSHIP

    user = console_user(cfg, args)
    if user.role not in LEADERSHIP:
        raise CommandError(f"{user.username} ({user.role}) may not pick the month's topic")

    def work(session: Any) -> None:
        topic = topics.pick(session, args.month, args.grid, args.category,
                            actor=user.username, note=args.note)
        audit.record(session, actor=user.username, role=user.role, action="topic.pick",
                     target=f"topic:{topic.month}", details={"grid": args.grid,
                                                             "category": args.category,
                                                             "via": "cli"})

    _unit(cfg, work)
    print(f"{args.month} 每月一题: {args.grid} {args.category}")
    return 0


def _period(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD",
                   help="first site-local day (default: 29 days before --to)")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day (default: today)")


def _days(args: argparse.Namespace, cfg: Any) -> tuple[dt.date, dt.date]:
    import zoneinfo

    from hotline.indices.exceptions import IndicesError
    from hotline.indices.queries import parse_day

    try:
        last = parse_day(args.last, "--to") if args.last else \
            dt.datetime.now(zoneinfo.ZoneInfo(cfg["site"]["timezone"])).date()
        first = parse_day(args.first, "--from") if args.first else last - dt.timedelta(days=29)
    except IndicesError as e:
        raise CommandError(e.message) from None
    return first, last


def _unit(cfg: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from hotline.indices.exceptions import IndicesError

    try:
        return run_unit(cfg, fn, *args, **kwargs)
    except IndicesError as e:
        raise CommandError(e.message) from None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _update(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.aggregate import catch_up, local_day
    from hotline.indices.warning import scan, warning_view

    zone = cfg["site"]["timezone"]
    now = dt.datetime.now(dt.UTC)

    def work(session: Any) -> tuple[list[Any], list[dict[str, Any]]]:
        folded = catch_up(session, local_day(now, zone), timezone=zone, rebuild=args.rebuild,
                          satisfied_min_score=cfg["reports"]["satisfied_min_score"])
        today = local_day(now, zone)
        raised = [warning_view(w) for day in (today - dt.timedelta(days=1), today)
                  for w in scan(session, day, timezone=zone)]
        return folded, raised

    folded, raised = _unit(cfg, work)
    if folded:
        print(f"folded {len(folded)} day(s) {folded[0].day} .. {folded[-1].day}: "
              f"{sum(f.events for f in folded)} events, {sum(f.rows for f in folded)} rows")
    else:
        print("nothing to fold (no tickets yet)")
    for w in raised:
        print(f"warning {w['id']}: {w['day']} {w['grid']} {w['category']} {w['count']} "
              f"(limit {w['control_limit']}, baseline {w['baseline']:.2f})")
    return 0


def _show(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.formulas import DEFINITIONS
    from hotline.indices.queries import index_table

    first, last = _days(args, cfg)
    rows = _unit(cfg, lambda s: [r.as_dict() for r in index_table(s, args.by, first, last)])
    if args.format == "json":
        print(json.dumps({"by": args.by, "from": first.isoformat(), "to": last.isoformat(),
                          "rows": rows, "definitions": DEFINITIONS}, ensure_ascii=False,
                         indent=1))
        return 0
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["code"])
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
        return 0
    print(f"{'code':10} {'name':16} {'demands':>8} {'强度':>7} {'及时率':>7} {'解决率':>7} "
          f"{'满意率':>7} {'重复率':>7} {'综合':>6}")
    for r in rows:
        print(f"{r['code']:10} {r['name'][:16]:16} {r['demands']:>8} {_num(r['intensity']):>7} "
              f"{_pct(r['timeliness']):>7} {_pct(r['resolution']):>7} "
              f"{_pct(r['satisfaction']):>7} {_pct(r['repeat']):>7} {_num(r['composite']):>6}")
    for text in DEFINITIONS.values():
        print(text)
    return 0


def _trend(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.queries import trend

    first, last = _days(args, cfg)
    points = _unit(cfg, lambda s: [p.as_dict() for p in trend(s, first, last, step=args.step,
                                                              grid=args.grid)])
    if args.format == "json":
        print(json.dumps(points, ensure_ascii=False, indent=1))
        return 0
    for p in points:
        print(f"{p['start']} {p['demands']:>7} {_pct(p['timeliness']):>7} "
              f"{_pct(p['satisfaction']):>7} {_num(p['composite']):>6}")
    return 0


def _warnings(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.warning import RULE, list_warnings

    views = _unit(cfg, list_warnings, status=args.status)
    if args.format == "json":
        print(json.dumps({"rule": RULE, "warnings": views}, ensure_ascii=False, indent=1))
        return 0
    print(RULE)
    for w in views:
        print(f"{w['id']:>5} {w['day']} {w['grid']:8} {w['category']:8} {w['count']:>4} "
              f"limit {w['control_limit']:>3} baseline {w['baseline']:.2f} {w['status']}"
              f"{' ' + w['ticket'] if w['ticket'] else ''}")
    return 0


def _acting(cfg: Any, args: argparse.Namespace) -> Any:
    from hotline.web.roles import WARNING_HANDLERS

    user = console_user(cfg, args)
    if user.role not in WARNING_HANDLERS:
        raise CommandError(f"{user.username} ({user.role}) may not act on early warnings "
                           "(supervisors and admins may)")
    return user


def _task(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.warning import make_task
    from hotline.tickets.clock import DeadlineRules
    from hotline.tickets.service import TicketService
    from hotline.web import audit

    user = _acting(cfg, args)
    tickets = TicketService(timezone=cfg["site"]["timezone"],
                            rules=DeadlineRules.from_settings(cfg["tickets"]))

    def work(session: Any) -> str:
        ticket = make_task(session, args.warning, tickets=tickets, actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="warning.task",
                     target=f"warning:{args.warning}", details={"ticket": ticket.number,
                                                                "via": "cli"})
        return ticket.number

    print(f"warning {args.warning} → proactive task {_unit(cfg, work)} (waiting for dispatch)")
    return 0


def _dismiss(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.indices.warning import dismiss
    from hotline.web import audit

    user = _acting(cfg, args)

    def work(session: Any) -> None:
        dismiss(session, args.warning, actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="warning.dismiss",
                     target=f"warning:{args.warning}", details={"via": "cli"})

    _unit(cfg, work)
    print(f"warning {args.warning} dismissed")
    return 0
