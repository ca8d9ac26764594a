# -*- test-case-name: tests.reports.test_cli -*-
"""``hotline report sla | rates | daily``: the supervisor reports as HTML or CSV files, from the
same functions the console pages use."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="supervisor reports: callback SLA, the three rates, "
                                      "the daily public-sentiment report")
    rsub = p.add_subparsers(dest="report_command", metavar="REPORT")
    rsub.required = True

    sla = rsub.add_parser("sla", help="callback SLA for a period (site-local days)")
    _period_args(sla)
    sla.add_argument("--by", default="department",
                     choices=["department", "agent", "category", "channel", "grid"],
                     help="group the report (default: department)")
    for name in ("department", "agent", "grid"):
        sla.add_argument(f"--{name}", metavar="CODE", help=f"only this {name} (by code)")
    sla.add_argument("--category", help="only this category")
    sla.add_argument("--channel", help="only this intake channel (code)")
    sla.add_argument("--tickets", metavar="OUTCOME", nargs="?", const="all",
                     help="add the callbacks (all, or one outcome: met, late, not_reached, "
                          "pending, cancelled); with --format csv the list replaces the summary")
    sla.add_argument("--limit", type=int, default=500, help="callbacks listed (default 500)")
    _output_args(sla)
    sla.set_defaults(func=_sla)

    rates = rsub.add_parser("rates", help="response, resolution and satisfaction rates")
    _period_args(rates)
    rates.add_argument("--department", metavar="CODE", help="only this department")
    _output_args(rates)
    rates.set_defaults(func=_rates)

    service = rsub.add_parser("service", help="service level (answered within "
                                              "reports.service_level_s), connection and "
                                              "abandon rates, waits, by hour or day")
    _period_args(service)
    service.add_argument("--by", choices=["hour", "day"], default="hour")
    service.add_argument("--format", choices=["html", "csv", "json"], default="html")
    service.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    service.set_defaults(func=_service)

    pressure = rsub.add_parser("pressure", help="one day's pressure curve with its critical "
                                                "thresholds (reports.pressure_*) and the "
                                                "moments each was crossed")
    pressure.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="site-local day")
    pressure.add_argument("--step", type=int, metavar="MIN",
                          help="minutes per step (default reports.pressure_step_min)")
    pressure.add_argument("--format", choices=["table", "json", "html"], default="table",
                          help="table: the thresholds and the crossings, one a line")
    pressure.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    pressure.set_defaults(func=_pressure)

    daily = rsub.add_parser("daily", help="the daily public-sentiment report (民情报告)")
    daily.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="site-local day")
    daily.add_argument("--store", action="store_true",
                       help="also keep it in the database, as the scheduled job does")
    daily.add_argument("--format", choices=["html", "json", "pdf"], default="html",
                       help="pdf: the page laid out with the Chinese font (needs -o)")
    daily.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    daily.set_defaults(func=_daily)


def _period_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", required=True, metavar="YYYY-MM-DD",
                   help="first day (site-local)")
    p.add_argument("--to", dest="last", required=True, metavar="YYYY-MM-DD",
                   help="last day, included")


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["html", "csv"], default="html")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")


def _write(args: argparse.Namespace, data: str | bytes) -> int:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if args.output:
        try:
            Path(args.output).write_bytes(raw)
        except OSError as e:
            raise CommandError(f"cannot write {args.output}: {e}") from None
        print(f"wrote {args.output} ({len(raw)} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    return 0


def _run(cfg: Any, fn, *args: Any, **kwargs: Any) -> Any:
    """One read-only unit of work on the configured database; report errors as one line."""
    from hotline.cli.database import with_session
    from hotline.reports.exceptions import ReportError

    try:
        return with_session(cfg, fn, *args, **kwargs)
    except ReportError as e:
        raise CommandError(e.message) from None


def _period(args: argparse.Namespace, cfg: Any):
    from hotline.reports.exceptions import ReportError
    from hotline.reports.periods import period

    try:
        return period(args.first, args.last, cfg["site"]["timezone"])
    except ReportError as e:
        raise CommandError(e.message) from None


def _sla(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.reports import render
    from hotline.reports.sla import SLAFilter, sla_report, sla_tickets

    p = _period(args, cfg)
    filters = SLAFilter(department=args.department, agent=args.agent, category=args.category,
                        channel=args.channel, grid=args.grid)
    outcome = None if args.tickets in (None, "all") else args.tickets

    def work(session):
        grace = float(cfg["scheduler"]["sla_grace_s"])
        report = sla_report(session, p, filters, by=args.by, sla_grace_s=grace)
        rows = (sla_tickets(session, p, filters, outcome=outcome, limit=args.limit,
                            sla_grace_s=grace) if args.tickets else None)
        return report, rows

    report, rows = _run(cfg, work)
    if args.format == "csv":
        if rows is not None:
            return _write(args, render.sla_tickets_csv(rows, timezone=p.timezone))
        return _write(args, render.sla_csv(report))
    return _write(args, render.sla_html(report, tickets=rows))


def _rates(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.reports import render
    from hotline.reports.rates import rates_report

    p = _period(args, cfg)
    report = _run(cfg, rates_report, p, department=args.department,
                  satisfied_min_score=cfg["reports"]["satisfied_min_score"])
    return _write(args, render.rates_csv(report) if args.format == "csv"
                  else render.rates_html(report))


def _service(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.reports import render
    from hotline.reports.service_level import service_report

    p = _period(args, cfg)
    report = _run(cfg, service_report, p, by=args.by,
                  threshold_s=float(cfg["reports"]["service_level_s"]))
    if args.format == "json":
        return _write(args, json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
    return _write(args, render.service_csv(report) if args.format == "csv"
                  else render.service_html(report))


def _daily(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.reports import render
    from hotline.reports.charts import load_geometry
    from hotline.reports.daily import build_daily, store_daily
    from hotline.reports.exceptions import ReportError

    settings = cfg["reports"]
    try:
        geometry = load_geometry(settings["grid_geometry"] or None)
    except ReportError as e:
        raise CommandError(e.message) from None

    def work(session):
        report = build_daily(session, args.date, timezone=cfg["site"]["timezone"],
                             calls_per_agent_hour=settings["calls_per_agent_hour"],
                             sla_grace_s=float(cfg["scheduler"]["sla_grace_s"]))
        html = render.daily_html(report, geometry)
        if args.store:
            store_daily(session, report, html)
        return report, html

    report, html = _run(cfg, work)
    if args.format == "pdf":
        if not args.output:
            raise CommandError("a PDF goes to a file: add -o FILE.pdf")
        from hotline.reports.pdf import html_to_pdf

        return _write(args, html_to_pdf(html))
    if args.format == "json":
        return _write(args, json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
    return _write(args, html)


def _pressure(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.reports.pages import SiteSettings, pressure_view

    params = {"date": args.date, "format": "json" if args.format == "table" else args.format}
    if args.step is not None:
        params["step"] = str(args.step)
    rendered = _run(cfg, pressure_view, params, settings=SiteSettings.from_config(cfg))
    if args.format != "table":
        return _write(args, rendered.body)
    data = json.loads(rendered.body)
    t = data["thresholds"]
    lines = [f"话务压力 {data['date']} ({data['timezone']})，每 {data['step_min']} 分钟",
             f"阈值: 排队等待 > {t['calls_waiting']} 通 · 服务水平 < "
             f"{t['service_level'] * 100:g}% ({data['service_level_s']:g} 秒) · 空闲坐席 < "
             f"{t['agents_free']} 名"]
    if not data["crossings"]:
        lines.append("当日未越限")
    for c in data["crossings"]:
        value = (f"{c['value'] * 100:.1f}%" if c["measure"] == "service_level"
                 else f"{c['value']:g}")
        lines.append(f"{c['local']}  {c['measure']:<14} {c['label']}  {value}  恢复 "
                     f"{c['recovered_local'] or '—'}")
    return _write(args, "\n".join(lines) + "\n")
