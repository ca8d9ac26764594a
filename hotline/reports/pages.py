# -*- test-case-name: tests.reports.test_pages -*-
"""The report pages as the console serves them: query parameters in, (content type, bytes) out.

The web layer mounts each view as a thin resource (supervisor role required):

    rendered = await database.run(pages.sla_view, request_args, settings=site)
    request.setHeader(b"content-type", rendered.content_type.encode())
    if rendered.filename: request.setHeader(b"content-disposition", rendered.disposition)
    return rendered.body

A ``ReportError`` (bad date, unknown code, ...) carries ``status_code`` 400, ``error_id`` and
``details`` for the web layer's error rendering; nothing is changed by any view.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hotline.reports import render
from hotline.reports.areas import area_view, has_map
from hotline.reports.charts import load_geometry, pressure_curve_svg
from hotline.reports.daily import build_daily, load_daily, pressure_by_hour, tickets_by_grid
from hotline.reports.exceptions import ReportError
from hotline.reports.periods import day_period, period
from hotline.reports.pressure import STEPS_MIN, Thresholds, pressure_report
from hotline.reports.rates import rates_report
from hotline.reports.service_level import GROUPINGS as SERVICE_GROUPINGS
from hotline.reports.service_level import service_report
from hotline.reports.sla import (
    DEFAULT_SLA_GRACE_S,
    SLAFilter,
    sla_report,
    sla_tickets,
    weekly_trend,
)

__all__ = ["Rendered", "SiteSettings", "sla_view", "rates_view", "daily_view", "heat_map_view",
           "pressure_view", "VIEWS"]

_HTML = "text/html; charset=utf-8"
_CSV = "text/csv; charset=utf-8"
_SVG = "image/svg+xml; charset=utf-8"


@dataclass(frozen=True)
class Rendered:
    """A view's answer: what to send and, for downloads, the file name."""

    content_type: str
    body: bytes
    filename: str | None = None

    @property
    def disposition(self) -> str:
        return f'attachment; filename="{self.filename}"' if self.filename else "inline"


@dataclass(frozen=True)
class SiteSettings:
    """What the views need from the configuration: the zone and the ``[reports]`` section."""

    timezone: str
    reports: Mapping[str, Any]
    #: ``scheduler.sla_grace_s``: the SLA deadline rule's grace (L{scheduler.policy.sla_deadline}).
    sla_grace_s: float = DEFAULT_SLA_GRACE_S

    @classmethod
    def from_config(cls, config: Any) -> SiteSettings:
        return cls(config["site"]["timezone"], dict(config["reports"]),
                   float(config["scheduler"]["sla_grace_s"]))


def _one(params: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """A parameter as text (twisted.web gives lists of bytes; tests give str)."""
    value = params.get(name, params.get(name.encode(), default))
    if isinstance(value, list | tuple):
        value = value[0] if value else default
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ReportError(f"parameter {name} is not UTF-8 text", {"field": name}) from None
    if value is not None and len(value) > 200:
        raise ReportError(f"parameter {name} is too long", {"field": name})
    return value if value not in ("", None) else default


def _int(params: Mapping[str, Any], name: str, default: int) -> int:
    text = _one(params, name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ReportError(f"parameter {name} must be a whole number, got {text!r}",
                          {"field": name}) from None


def _format(params: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
    fmt = _one(params, "format", allowed[0])
    if fmt not in allowed:
        raise ReportError(f"format must be one of {', '.join(allowed)}", {"format": fmt})
    return fmt  # type: ignore[return-value]


def _period(params: Mapping[str, Any], settings: SiteSettings):
    today = dt.datetime.now(zoneinfo.ZoneInfo(settings.timezone)).date().isoformat()
    return period(_one(params, "from", today), _one(params, "to", today), settings.timezone)


def _fragment(params: Mapping[str, Any]) -> bool:
    return _one(params, "fragment") in ("1", "true", "yes")


def sla_view(session: Session, params: Mapping[str, Any], *, settings: SiteSettings) -> Rendered:
    """The SLA page. Parameters: from, to (YYYY-MM-DD), by, department, agent, category,
    channel, grid, view=tickets with outcome/offset/limit for the drill-down, weeks (trend),
    format=html|csv, fragment=1."""
    p = _period(params, settings)
    filters = SLAFilter(**{d: _one(params, d) for d in
                           ("department", "agent", "category", "channel", "grid")})
    by = _one(params, "by", "department") or "department"
    fmt = _format(params, ("html", "csv"))
    want_tickets = _one(params, "view") == "tickets"
    outcome = _one(params, "outcome")
    rows = None
    if want_tickets:
        rows = sla_tickets(session, p, filters, outcome=outcome,
                           limit=_int(params, "limit", 200), offset=_int(params, "offset", 0),
                           sla_grace_s=settings.sla_grace_s)
    name = f"sla-{p.first.isoformat()}-{p.last.isoformat()}"
    if fmt == "csv":
        if rows is not None:
            return Rendered(_CSV, render.sla_tickets_csv(rows, timezone=p.timezone),
                            f"{name}-callbacks.csv")
        return Rendered(_CSV, render.sla_csv(sla_report(session, p, filters, by=by,
                                                        sla_grace_s=settings.sla_grace_s)),
                        f"{name}.csv")
    report = sla_report(session, p, filters, by=by, sla_grace_s=settings.sla_grace_s)
    weeks = _int(params, "weeks", 0)
    trend = (weekly_trend(session, p.last, weeks=weeks, timezone=p.timezone, filters=filters,
                          sla_grace_s=settings.sla_grace_s) if weeks else None)
    html = render.sla_html(report, tickets=rows, trend=trend, page_=not _fragment(params))
    return Rendered(_HTML, html.encode("utf-8"))


def rates_view(session: Session, params: Mapping[str, Any], *,
               settings: SiteSettings) -> Rendered:
    """The three rates. Parameters: from, to, department, format=html|csv, fragment=1."""
    p = _period(params, settings)
    report = rates_report(session, p, department=_one(params, "department"),
                          satisfied_min_score=int(settings.reports.get("satisfied_min_score", 4)))
    if _format(params, ("html", "csv")) == "csv":
        return Rendered(_CSV, render.rates_csv(report),
                        f"rates-{p.first.isoformat()}-{p.last.isoformat()}.csv")
    return Rendered(_HTML, render.rates_html(report, page_=not _fragment(params))
                    .encode("utf-8"))


def daily_view(session: Session, params: Mapping[str, Any], *,
               settings: SiteSettings) -> Rendered:
    """A day's 民情报告: the stored page when the job wrote one, else built now (not stored).
    Parameters: date (YYYY-MM-DD)."""
    day = _one(params, "date")
    if day is None:
        raise ReportError("which day? give date=YYYY-MM-DD", {"field": "date"})
    p = day_period(day, settings.timezone)
    record = load_daily(session, p.first)
    if record is not None:
        return Rendered(_HTML, record.html.encode("utf-8"))
    report = build_daily(session, p.first, timezone=settings.timezone,
                         calls_per_agent_hour=float(settings.reports.get("calls_per_agent_hour",
                                                                         6.0)),
                         sla_grace_s=settings.sla_grace_s)
    geometry = load_geometry(settings.reports.get("grid_geometry") or None)
    return Rendered(_HTML, render.daily_html(report, geometry).encode("utf-8"))


def heat_map_view(session: Session, params: Mapping[str, Any], *,
                  settings: SiteSettings) -> Rendered:
    """Tickets by area over a period as an SVG, an HTML fragment (fragment=1) or a page
    (format=html). With an imported map it drills down: within=CODE shows the areas inside
    a street, community or grid; level=street|community|grid|sub_grid the whole district at
    that level (default: grids). Without a map, the level-1 grids of the geometry file.
    Parameters: from, to, within, level, format=svg|html, fragment=1."""
    p = _period(params, settings)
    fmt = _format(params, ("svg", "html"))
    if has_map(session):
        view = area_view(session, p, within=_one(params, "within"),
                         level=_one(params, "level"))
        base = f"/reports/heat-map?from={p.first.isoformat()}&to={p.last.isoformat()}"
        if fmt == "html" or _fragment(params):
            return Rendered(_HTML, render.drill_html(view, base=base, page_=fmt == "html")
                            .encode("utf-8"))
        return Rendered(_SVG, render.drill_svg(view, base=base).encode("utf-8"))
    counts = {code: n for code, _, n in tickets_by_grid(session, p)}
    geometry = load_geometry(settings.reports.get("grid_geometry") or None)
    title = f"各网格诉求量 {p.zh_label}"
    if fmt == "html":
        return Rendered(_HTML, render.heat_map_html(geometry, counts, title=title, page_=True)
                        .encode("utf-8"))
    return Rendered(_SVG, render.heat_map_html(geometry, counts, title=title).encode("utf-8"))


def pressure_view(session: Session, params: Mapping[str, Any], *,
                  settings: SiteSettings) -> Rendered:
    """One day's pressure: the hourly load and the critical thresholds (calls waiting, service
    level, agents free) with the moments each was crossed. Parameters: date (YYYY-MM-DD),
    step (minutes, default ``reports.pressure_step_min``), format=html|json|svg (svg: the
    hourly load chart alone), fragment=1."""
    day = _one(params, "date")
    if day is None:
        raise ReportError("which day? give date=YYYY-MM-DD", {"field": "date"})
    p = day_period(day, settings.timezone)
    fmt = _format(params, ("html", "json", "svg"))
    hours = pressure_by_hour(session, p, calls_per_agent_hour=float(
        settings.reports.get("calls_per_agent_hour", 6.0)))
    if fmt == "svg":
        return Rendered(_SVG, pressure_curve_svg(hours, title=f"每小时话务压力 {p.zh_label}")
                        .encode("utf-8"))
    step = _int(params, "step", int(settings.reports.get("pressure_step_min", 15)))
    if step not in STEPS_MIN:
        raise ReportError(f"step must be one of {', '.join(map(str, STEPS_MIN))} minutes",
                          {"field": "step"})
    report = pressure_report(session, p, thresholds=Thresholds.from_settings(settings.reports),
                             step_min=step, service_level_s=float(
                                 settings.reports.get("service_level_s", 15.0)))
    if fmt == "json":
        return Rendered("application/json; charset=utf-8",
                        json.dumps(report.as_dict(), ensure_ascii=False).encode("utf-8"))
    return Rendered(_HTML, render.pressure_html(report, hours, page_=not _fragment(params))
                    .encode("utf-8"))


def service_view(session: Session, params: Mapping[str, Any], *,
                 settings: SiteSettings) -> Rendered:
    """Service figures (服务水平, 接通率, 放弃率, waits) by hour or day. Parameters: from, to,
    by=hour|day, format=html|csv|json, fragment=1."""
    p = _period(params, settings)
    by = _one(params, "by", "hour") or "hour"
    if by not in SERVICE_GROUPINGS:
        raise ReportError(f"group by one of {', '.join(SERVICE_GROUPINGS)}", {"field": "by"})
    report = service_report(session, p, by=by, threshold_s=float(
        settings.reports.get("service_level_s", 15.0)))
    fmt = _format(params, ("html", "csv", "json"))
    if fmt == "csv":
        return Rendered(_CSV, render.service_csv(report),
                        f"service-{by}-{p.first.isoformat()}-{p.last.isoformat()}.csv")
    if fmt == "json":
        return Rendered("application/json; charset=utf-8",
                        json.dumps(report.as_dict(), ensure_ascii=False).encode("utf-8"))
    return Rendered(_HTML, render.service_html(report, page_=not _fragment(params))
                    .encode("utf-8"))


#: Path segment → view, for the console to mount under /reports/.
VIEWS = {"sla": sla_view, "rates": rates_view, "daily": daily_view,
         "heat-map": heat_map_view, "pressure": pressure_view, "service": service_view}
