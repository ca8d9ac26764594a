# -*- test-case-name: tests.reports.test_render -*-
"""Reports as HTML (Jinja2, autoescaped, printable), CSV (Excel-safe) and SVG charts.

Every function takes data already computed and returns text or bytes, so the console can mount
them as pages (``page=True``: a whole document with the print style) or fragments
(``page=False``) and the command line can write them to files. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from hotline.channels import CHANNELS
from hotline.reports.charts import (
    GridGeometry,
    HourLoad,
    WeekSLA,
    heat_map_svg,
    pressure_curve_svg,
    pressure_thresholds_svg,
    sla_trend_svg,
)
from hotline.reports.daily import DailyReport
from hotline.reports.pressure import DEFINITIONS as PRESSURE_DEFINITIONS
from hotline.reports.pressure import MEASURE_LABELS, PressureReport
from hotline.reports.rates import RatesReport
from hotline.reports.service_level import DEFINITIONS as SERVICE_DEFINITIONS
from hotline.reports.service_level import ServiceReport
from hotline.reports.sla import (
    DIMENSION_LABELS,
    OUTCOME_LABELS,
    OUTCOMES,
    SLAReport,
    SLATicket,
)
from hotline.reports.wallboard import SERVICE_LEVEL_DEFINITION
from hotline.tickets.schemas import KIND_LABELS

__all__ = ["environment", "page", "sla_html", "sla_csv", "sla_tickets_html", "sla_tickets_csv",
           "rates_html", "rates_csv", "daily_html", "wallboard_html", "heat_map_html",
           "drill_svg", "drill_html",
           "safe_cell", "CSV_ENCODING", "service_html", "service_csv", "pressure_html",
           "zh_date"]

#: CSV files carry a byte-order mark so spreadsheet programs read the Chinese text as UTF-8.
CSV_ENCODING = "utf-8-sig"
#: A cell beginning with one of these is a formula to a spreadsheet: we defuse it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_env: Environment | None = None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _local(value: dt.datetime | None, zone: str = "Asia/Shanghai",
           fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(zoneinfo.ZoneInfo(zone)).strftime(fmt)


def zh_date(value: dt.date | dt.datetime | str | None) -> str:
    """A day as zh-CN writes it: 2026年11月26日."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.year}年{value.month}月{value.day}日"


def environment() -> Environment:
    """The one Jinja2 environment: templates beside this module, autoescape on for every
    template, undefined names an error rather than an empty string."""
    global _env
    if _env is None:
        env = Environment(loader=PackageLoader("hotline.reports", "templates"),
                          autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)
        env.filters["pct"] = _pct
        env.filters["local"] = _local
        env.filters["zh_date"] = zh_date
        env.globals.update(dims={**DIMENSION_LABELS, "hour": "小时", "day": "日期"},
                           outcomes={**OUTCOME_LABELS, "overdue": "逾期未回"},
                           kinds=KIND_LABELS,
                           channels={code: c.label for code, c in CHANNELS.items()})
        _env = env
    return _env


def page(title: str, body: str | Markup) -> str:
    """A whole HTML document around a fragment, with the screen and print styles."""
    return environment().get_template("page.html").render(title=title, body=Markup(body))


def _query(base: Mapping[str, Any], **extra: Any) -> str:
    params = {k: v for k, v in {**base, **extra}.items() if v not in (None, "")}
    return "?" + urlencode(params)


def sla_html(report: SLAReport, *, tickets: Sequence[SLATicket] | None = None,
             trend: Sequence[WeekSLA] | None = None, page_: bool = True) -> str:
    """The SLA report: totals, definitions, groups with drill-down links, lateness, worst
    offenders, and optionally a ticket list and the weekly trend chart."""
    base = {"from": report.period.first.isoformat(), "to": report.period.last.isoformat(),
            "by": report.by, **report.filters.active()}
    links = {g.key: _query(base, **{report.by: g.key}) for g in report.groups if g.key}
    drill = {o: _query(base, outcome=o, view="tickets") for o in OUTCOMES}
    body = environment().get_template("sla.html").render(
        r=report, links=links, drill=drill, tickets=tickets, tz=report.period.timezone,
        trend_svg=Markup(sla_trend_svg(trend)) if trend else None,
        csv_link=_query(base, format="csv"), max_late=max((n for _, n in report.lateness),
                                                           default=0))
    title = f"定时回复考核 {report.period.zh_label}"
    return page(title, body) if page_ else body


def sla_tickets_html(rows: Sequence[SLATicket], *, timezone: str, page_: bool = False,
                     title: str = "回访明细") -> str:
    """The drill-down list alone."""
    body = environment().get_template("sla_tickets.html").render(tickets=rows, tz=timezone)
    return page(title, body) if page_ else body


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: numbers stay, formula-like text is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return buffer.getvalue().encode(CSV_ENCODING)


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def sla_csv(report: SLAReport) -> bytes:
    """One row per group and a total row: the counts by outcome and the SLA rate."""
    head = [report.by, "label", "due", *OUTCOMES, "sla_rate"]
    rows: list[list[Any]] = [head]
    for g in report.groups:
        c = g.counts
        rows.append([g.key, g.label, c.due, *(getattr(c, o) for o in OUTCOMES),
                     _rate(c.met_rate)])
    t = report.totals
    rows.append(["", "total", t.due, *(getattr(t, o) for o in OUTCOMES), _rate(t.met_rate)])
    return _csv(rows)


def sla_tickets_csv(rows: Sequence[SLATicket], *, timezone: str) -> bytes:
    """The drill-down list as CSV (the citizen's number masked, times site-local)."""
    out: list[list[Any]] = [["ticket", "callback", "category", "channel", "department", "agent",
                             "citizen", "due", "reached", "outcome", "minutes_late"]]
    for t in rows:
        out.append([t.ticket_number, t.callback_id, t.category, t.channel, t.department,
                    t.agent, t.citizen, _local(t.due_at, timezone), _local(t.reached_at, timezone),
                    t.outcome, t.minutes_late])
    return _csv(out)


def rates_html(report: RatesReport, *, page_: bool = True) -> str:
    """The three rates per department, with their definitions."""
    body = environment().get_template("rates.html").render(r=report)
    return page(f"响应率 · 办结率 · 满意率 {report.period.zh_label}", body) if page_ else body


def rates_csv(report: RatesReport) -> bytes:
    rows: list[list[Any]] = [["department", "name", "limit_hours", "dispatched", "responded",
                              "resolved", "surveyed", "satisfied", "response_rate",
                              "resolution_rate", "satisfaction_rate", "reopened"]]
    for r in [*report.rows, report.total]:
        rows.append([r.code, r.name, r.limit_hours or "", r.dispatched, r.responded, r.resolved,
                     r.surveyed, r.satisfied, _rate(r.response_rate), _rate(r.resolution_rate),
                     _rate(r.satisfaction_rate), r.reopened])
    return _csv(rows)


def heat_map_html(geometry: GridGeometry, counts: Mapping[str, int], *, title: str,
                  page_: bool = False) -> str:
    """The heat map alone (an SVG fragment, or a page around it)."""
    svg = heat_map_svg(geometry, counts, title=title)
    return page(title, Markup(svg)) if page_ else svg


def _drill_href(base: str, **query: str) -> str:
    return f"{base}&{urlencode(query)}"


def drill_svg(view: Any, *, base: str) -> str:
    """The heat map of an ``areas.AreaView``; every area with areas inside it links one level
    down. ``base`` is the view's URL with the period (…?from=…&to=…)."""
    links = {a.code: _drill_href(base, within=a.code) for a in view.areas if a.deeper}
    return heat_map_svg(view.geometry, {a.code: a.tickets for a in view.areas},
                        title=view.geometry.name, links=links)


def drill_html(view: Any, *, base: str, page_: bool = False) -> str:
    """``drill_svg`` with the trail (全区 › 街道 › 社区 › 网格), a link per level for the whole
    district, and the counts table."""
    body = environment().get_template("drill.html").render(
        v=view, svg=Markup(drill_svg(view, base=base)),
        href=lambda **query: _drill_href(base, **query),
        links={a.code: _drill_href(base, within=a.code) for a in view.areas if a.deeper},
        labels={"street": "街道", "community": "社区", "grid": "网格", "sub_grid": "子网格"})
    return page(view.geometry.name, Markup(body)) if page_ else body


def daily_html(report: DailyReport, geometry: GridGeometry, *, page_: bool = True) -> str:
    """The daily public-sentiment report with its heat map and pressure curve."""
    body = environment().get_template("daily.html").render(
        r=report,
        heat_svg=Markup(heat_map_svg(geometry, report.grid_counts,
                                     title=f"{zh_date(report.day)} 各网格诉求量")),
        pressure_svg=Markup(pressure_curve_svg(report.pressure,
                                               title=f"{zh_date(report.day)} 分时话务压力")))
    return page(f"民情报告 {zh_date(report.day)}", body) if page_ else body


def wallboard_html(figures: Mapping[str, Any], *, page_: bool = False) -> str:
    """The wall board tiles; the console replaces the fragment on every push."""
    body = environment().get_template("wallboard.html").render(
        f=figures, service_definition=SERVICE_LEVEL_DEFINITION)
    return page("实时大屏", body) if page_ else body


def service_html(report: ServiceReport, *, page_: bool = True) -> str:
    """Service level, connection and abandon rates and waits by hour or day, with their
    definitions."""
    body = environment().get_template("service.html").render(
        r=report, definitions=SERVICE_DEFINITIONS)
    return page(f"服务水平 {report.period.zh_label}", body) if page_ else body


def service_csv(report: ServiceReport) -> bytes:
    rows: list[list[Any]] = [[report.by, "settled", "answered", "answered_in_time",
                              "service_level", "connection_rate", "abandoned", "abandon_rate",
                              "average_wait_s", "longest_wait_s"]]
    for f in [*report.rows, report.total]:
        rows.append([f.label, f.settled, f.answered, f.answered_in_time, _rate(f.service_level),
                     _rate(f.connection_rate), f.abandoned, _rate(f.abandon_rate),
                     "" if f.average_wait_s is None else round(f.average_wait_s, 1),
                     "" if f.longest_wait_s is None else round(f.longest_wait_s, 1)])
    return _csv(rows)


def pressure_html(report: PressureReport, load: Sequence[HourLoad], *,
                  page_: bool = True) -> str:
    """The day's pressure: the hourly load chart, the threshold panels with their crossing
    marks, the list of crossings and the definitions."""
    body = environment().get_template("pressure.html").render(
        r=report, labels={str(k): v for k, v in MEASURE_LABELS.items()},
        definitions=PRESSURE_DEFINITIONS,
        load_svg=Markup(pressure_curve_svg(load, title=f"每小时话务压力 {zh_date(report.period.first)}")),
        thresholds_svg=Markup(pressure_thresholds_svg(report)))
    return page(f"话务压力曲线 {zh_date(report.period.first)}", body) if page_ else body
