# -*- test-case-name: tests.reports.test_charts -*-
"""Charts drawn on the server as SVG text: the grid heat map, the pressure curve and the weekly
SLA trend. No script runs in the browser; every label is escaped, so a grid or category name
cannot inject markup. The grid map's shapes come from a geometry file the site configures."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import escape

from hotline.reports.exceptions import BadGeometry

if TYPE_CHECKING:
    from hotline.reports.pressure import PressureReport

__all__ = ["GridShape", "GridGeometry", "load_geometry", "sample_geometry_path",
           "HEAT_COLOURS", "heat_class", "heat_map_svg", "HourLoad", "pressure_curve_svg",
           "WeekSLA", "sla_trend_svg", "pressure_thresholds_svg"]

#: Empty, then five classes from light to dark (ColorBrewer YlOrRd).
HEAT_COLOURS = ("#f0f0f0", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
_FONT = "font-family='sans-serif'"


@dataclass(frozen=True)
class GridShape:
    """A level-1 grid's outline, in the geometry's drawing units."""

    code: str
    name: str
    polygon: tuple[tuple[float, float], ...]

    @property
    def centre(self) -> tuple[float, float]:
        xs, ys = zip(*self.polygon, strict=True)
        return sum(xs) / len(xs), sum(ys) / len(ys)


@dataclass(frozen=True)
class GridGeometry:
    """The district's grid map: a drawing area and one outline per level-1 grid."""

    name: str
    width: float
    height: float
    grids: tuple[GridShape, ...]


def sample_geometry_path() -> Path:
    """The sample map shipped with the project: 120 grids G001-G120 (hotline/sample.py's codes)."""
    return Path(str(resources.files("hotline.reports").joinpath("geometry/sample-120.json")))


def load_geometry(path: str | Path | None = None) -> GridGeometry:
    """Read a geometry file (JSON: name, width, height, grids: [{code, name, polygon}]); the
    sample when ``path`` is empty. Raises BadGeometry saying what is wrong and where."""
    source = Path(path) if path else sample_geometry_path()
    try:
        data = json.loads(source.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise BadGeometry(f"cannot read grid geometry {source}: {e}", {"path": str(source)}) \
            from None
    try:
        grids = []
        seen: set[str] = set()
        for i, g in enumerate(data["grids"]):
            polygon = tuple((float(x), float(y)) for x, y in g["polygon"])
            if len(polygon) < 3:
                raise ValueError(f"grid #{i} ({g.get('code')}) has fewer than 3 points")
            code = str(g["code"])
            if code in seen:
                raise ValueError(f"grid code {code} appears twice")
            seen.add(code)
            grids.append(GridShape(code, str(g.get("name", code)), polygon))
        geometry = GridGeometry(str(data.get("name", source.stem)), float(data["width"]),
                                float(data["height"]), tuple(grids))
    except (KeyError, TypeError, ValueError) as e:
        raise BadGeometry(f"grid geometry {source} is not usable: {e}", {"path": str(source)}) \
            from None
    if not geometry.grids or geometry.width <= 0 or geometry.height <= 0:
        raise BadGeometry(f"grid geometry {source} has no grids or no drawing area",
                          {"path": str(source)})
    return geometry


def heat_class(count: int, highest: int) -> int:
    """0 for no tickets, else 1-5 in equal steps up to the busiest grid."""
    if count <= 0 or highest <= 0:
        return 0
    return min(5, max(1, math.ceil(5 * count / highest)))


def _points(polygon: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in polygon)


def heat_map_svg(geometry: GridGeometry, counts: Mapping[str, int], *,
                 title: str = "各网格诉求量", links: Mapping[str, str] | None = None) -> str:
    """The grid map with each grid shaded by its count; grids missing from ``counts`` are 0.
    Each grid carries ``data-code``/``data-count`` and a tooltip; a legend gives the steps.
    A grid with an entry in ``links`` is a link there (the drill-down into it)."""
    links = links or {}
    highest = max((counts.get(g.code, 0) for g in geometry.grids), default=0)
    legend_h = 40
    w, h = geometry.width, geometry.height
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart heat-map' role='img' "
           f"viewBox='0 0 {w:.0f} {h + legend_h + 30:.0f}' width='{w:.0f}' "
           f"height='{h + legend_h + 30:.0f}' aria-label='{escape(title)}'>",
           f"<title>{escape(title)}</title>",
           f"<text x='4' y='20' {_FONT} font-size='16'>{escape(title)}</text>",
           "<g transform='translate(0,30)'>"]
    for g in geometry.grids:
        n = int(counts.get(g.code, 0))
        colour = HEAT_COLOURS[heat_class(n, highest)]
        cx, cy = g.centre
        shape = (f"<g class='grid' data-code='{escape(g.code)}' data-count='{n}'>"
                 f"<polygon points='{_points(g.polygon)}' fill='{colour}' stroke='#555' "
                 f"stroke-width='1'><title>{escape(g.code)} {escape(g.name)}: {n}</title>"
                 f"</polygon><text x='{cx:.1f}' y='{cy + 4:.1f}' text-anchor='middle' "
                 f"{_FONT} font-size='10'>{escape(g.code)}</text></g>")
        if g.code in links:
            shape = f"<a href='{escape(links[g.code])}'>{shape}</a>"
        out.append(shape)
    out.append("</g>")
    y = h + 40
    for i, colour in enumerate(HEAT_COLOURS):
        x = 10 + i * 110
        if i == 0:
            label = "0"
        else:
            lo = math.floor((i - 1) * highest / 5) + 1
            hi = math.floor(i * highest / 5)
            label = f"{lo}–{hi}" if highest and hi >= lo else "—"
        out.append(f"<rect x='{x}' y='{y:.0f}' width='20' height='14' fill='{colour}' "
                   f"stroke='#555'/><text x='{x + 26}' y='{y + 12:.0f}' {_FONT} "
                   f"font-size='12'>{escape(label)}</text>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class HourLoad:
    """One hour of a day: tickets opened, calls arrived, and calls the agents logged in could
    take (agent-hours × calls per agent-hour)."""

    hour: int
    tickets: int
    calls: int
    capacity: float


def _axis_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def pressure_curve_svg(hours: Sequence[HourLoad], *, title: str = "每小时话务压力") -> str:
    """Calls as bars, tickets as a line and capacity as a dashed step line, hour by hour."""
    w, h, left, top, bottom = 760, 300, 50, 30, 40
    plot_w, plot_h = w - left - 20, h - top - bottom
    top_value = _axis_max(max([0.0] + [max(x.tickets, x.calls, x.capacity) for x in hours]))
    n = max(len(hours), 1)
    slot = plot_w / n

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart pressure' role='img' "
           f"viewBox='0 0 {w} {h}' width='{w}' height='{h}' aria-label='{escape(title)}'>",
           f"<title>{escape(title)}</title>",
           f"<text x='4' y='18' {_FONT} font-size='14'>{escape(title)}</text>"]
    for i in range(5):
        v = top_value * i / 4
        out.append(f"<line x1='{left}' x2='{w - 20}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
                   f"stroke='#ddd'/><text x='{left - 6}' y='{y(v) + 4:.1f}' text-anchor='end' "
                   f"{_FONT} font-size='10'>{v:g}</text>")
    for i, x in enumerate(hours):
        bx = left + i * slot
        out.append(f"<rect class='calls' x='{bx + slot * 0.15:.1f}' y='{y(x.calls):.1f}' "
                   f"width='{slot * 0.7:.1f}' height='{top + plot_h - y(x.calls):.1f}' "
                   f"fill='#9ecae1'><title>{x.hour:02d}时 来电 {x.calls} 通，诉求 "
                   f"{x.tickets} 件，接听能力 {x.capacity:g} 通</title></rect>")
        if i % 2 == 0:
            out.append(f"<text x='{bx + slot / 2:.1f}' y='{h - bottom + 14}' "
                       f"text-anchor='middle' {_FONT} font-size='10'>{x.hour:02d}</text>")
    if hours:
        line = " ".join(f"{left + (i + 0.5) * slot:.1f},{y(x.tickets):.1f}"
                        for i, x in enumerate(hours))
        out.append(f"<polyline class='tickets' points='{line}' fill='none' stroke='#e6550d' "
                   "stroke-width='2'/>")
        steps = []
        for i, x in enumerate(hours):
            steps += [f"{left + i * slot:.1f},{y(x.capacity):.1f}",
                      f"{left + (i + 1) * slot:.1f},{y(x.capacity):.1f}"]
        out.append(f"<polyline class='capacity' points='{' '.join(steps)}' fill='none' "
                   "stroke='#31a354' stroke-width='2' stroke-dasharray='6 3'/>")
    legend = (("#9ecae1", "来电量"), ("#e6550d", "诉求量"), ("#31a354", "坐席接听能力"))
    for i, (colour, label) in enumerate(legend):
        lx = left + i * 150
        out.append(f"<rect x='{lx}' y='{h - 16}' width='14' height='8' fill='{colour}'/>"
                   f"<text x='{lx + 18}' y='{h - 8}' {_FONT} font-size='11'>{label}</text>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class WeekSLA:
    """One ISO week's SLA: its label (2026-W47), met rate (None: nothing settled) and volume."""

    label: str
    met_rate: float | None
    settled: int


def sla_trend_svg(weeks: Sequence[WeekSLA], *, target: float | None = None,
                  title: str = "回访 SLA 按周达标率") -> str:
    """Met rate per week as a line with points (gaps where nothing was settled), 0-100 %."""
    w, h, left, top, bottom = 760, 260, 50, 30, 40
    plot_w, plot_h = w - left - 20, h - top - bottom
    n = max(len(weeks), 1)
    slot = plot_w / n

    def y(rate: float) -> float:
        return top + plot_h - plot_h * rate

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart sla-trend' role='img' "
           f"viewBox='0 0 {w} {h}' width='{w}' height='{h}' aria-label='{escape(title)}'>",
           f"<title>{escape(title)}</title>",
           f"<text x='4' y='18' {_FONT} font-size='14'>{escape(title)}</text>"]
    for pct in (0, 25, 50, 75, 100):
        out.append(f"<line x1='{left}' x2='{w - 20}' y1='{y(pct / 100):.1f}' "
                   f"y2='{y(pct / 100):.1f}' stroke='#ddd'/><text x='{left - 6}' "
                   f"y='{y(pct / 100) + 4:.1f}' text-anchor='end' {_FONT} "
                   f"font-size='10'>{pct}%</text>")
    if target is not None:
        out.append(f"<line class='target' x1='{left}' x2='{w - 20}' y1='{y(target):.1f}' "
                   f"y2='{y(target):.1f}' stroke='#31a354' stroke-dasharray='4 3'/>")
    segment: list[str] = []
    segments = []
    for i, week in enumerate(weeks):
        x = left + (i + 0.5) * slot
        out.append(f"<text x='{x:.1f}' y='{h - bottom + 14}' text-anchor='middle' {_FONT} "
                   f"font-size='9'>{escape(week.label[-3:])}</text>")
        if week.met_rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x:.1f},{y(week.met_rate):.1f}")
        out.append(f"<circle class='week' cx='{x:.1f}' cy='{y(week.met_rate):.1f}' r='3' "
                   f"fill='#3182bd' data-week='{escape(week.label)}' "
                   f"data-rate='{week.met_rate:.4f}'><title>{escape(week.label)}: "
                   f"达标率 {week.met_rate:.1%}，已结 {week.settled} 件</title></circle>")
    if segment:
        segments.append(segment)
    for s in segments:
        out.append(f"<polyline points='{' '.join(s)}' fill='none' "
                   "stroke='#3182bd' stroke-width='2'/>")
    out.append("</svg>")
    return "".join(out)


def _percent_label(v: float) -> str:
    return f"{v * 100:.0f}%"


def _count_label(v: float) -> str:
    return f"{v:g}"


def pressure_thresholds_svg(report: PressureReport, *, title: str = "临界监控") -> str:
    """Three panels over the day, one per watched figure (calls waiting, service level, agents
    free): the step values as a line, the threshold as a dashed red line, and a red mark
    (``class='crossing'``, ``data-measure``, ``data-at`` site-local HH:MM:SS) at each moment the
    threshold was crossed."""
    from hotline.reports.pressure import MEASURE_LABELS, Measure

    w, left, right, top, panel_h, gap = 760, 60, 20, 30, 110, 48
    plot_w = w - left - right
    h = top + 3 * (panel_h + gap) + 10
    start = report.period.start
    span = (report.steps[-1].start - start).total_seconds() + report.step_min * 60 \
        if report.steps else 86400.0

    def x(moment: dt.datetime) -> float:
        return left + plot_w * (moment - start).total_seconds() / span

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart pressure-thresholds' "
           f"role='img' viewBox='0 0 {w} {h}' width='{w}' height='{h}' "
           f"aria-label='{escape(title)}'>", f"<title>{escape(title)}</title>",
           f"<text x='4' y='18' {_FONT} font-size='14'>{escape(title)}</text>"]
    for n, measure in enumerate(Measure):
        y0 = top + n * (panel_h + gap) + 16
        threshold = report.thresholds.value(measure)
        values = [s.value(measure) for s in report.steps]
        if measure is Measure.SERVICE_LEVEL:
            top_value, fmt = 1.0, _percent_label
        else:
            top_value = _axis_max(max([float(threshold) + 1]
                                      + [float(v) for v in values if v is not None]))
            fmt = _count_label

        def y(v: float, y0: float = y0, top_value: float = top_value) -> float:
            return y0 + panel_h - panel_h * v / top_value

        unit = "比例" if measure is Measure.SERVICE_LEVEL else "数量"
        out.append(f"<g class='panel' data-measure='{measure}'>"
                   f"<text x='{left}' y='{y0 - 4}' {_FONT} font-size='12'>"
                   f"{escape(MEASURE_LABELS[measure])}（{unit}，阈值 {fmt(threshold)}）</text>")
        for i in range(3):
            v = top_value * i / 2
            out.append(f"<line x1='{left}' x2='{w - right}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
                       f"stroke='#ddd'/><text x='{left - 6}' y='{y(v) + 4:.1f}' "
                       f"text-anchor='end' {_FONT} font-size='10'>{fmt(v)}</text>")
        points = []
        for step, v in zip(report.steps, values, strict=True):
            if v is None:
                if len(points) > 1:
                    out.append(f"<polyline points='{' '.join(points)}' fill='none' "
                               "stroke='#3182bd' stroke-width='1.5'/>")
                points = []
                continue
            a = x(step.start)
            b = a + plot_w * report.step_min * 60 / span
            points += [f"{a:.1f},{y(float(v)):.1f}", f"{b:.1f},{y(float(v)):.1f}"]
        if len(points) > 1:
            out.append(f"<polyline points='{' '.join(points)}' fill='none' stroke='#3182bd' "
                       "stroke-width='1.5'/>")
        out.append(f"<line class='threshold' x1='{left}' x2='{w - right}' "
                   f"y1='{y(float(threshold)):.1f}' y2='{y(float(threshold)):.1f}' "
                   f"stroke='#d62728' stroke-dasharray='5 3' data-value='{threshold:g}'/>")
        for c in report.crossings:
            if c.measure is not measure:
                continue
            local = report.period.local(c.at).strftime("%H:%M:%S")
            cx = x(c.at)
            out.append(f"<path class='crossing' data-measure='{measure}' data-at='{local}' "
                       f"d='M{cx:.1f},{y0 + panel_h:.1f} l-5,8 l10,0 z' fill='#d62728'>"
                       f"<title>{local} {escape(MEASURE_LABELS[measure])}越限："
                       f"{fmt(c.value)}（阈值 {fmt(threshold)}）</title></path>"
                       f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{y0:.1f}' "
                       f"y2='{y0 + panel_h:.1f}' stroke='#d62728' stroke-width='0.8'/>")
        for hour in range(0, int(span // 3600) + 1, 2):
            hx = left + plot_w * hour * 3600 / span
            out.append(f"<text x='{hx:.1f}' y='{y0 + panel_h + 20:.1f}' text-anchor='middle' "
                       f"{_FONT} font-size='10'>{hour:02d}时</text>")
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
