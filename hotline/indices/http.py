# -*- test-case-name: tests.indices.test_http -*-
"""The leader's pages and API calls: the dimension indices (ranking table with the formulas,
trend chart), early warnings with their evidence (pushed on ``/api/warnings/stream``), and
turning a warning into a proactive task. Leaders read; supervisors and admins also act.

Handlers stay thin: one query or one service call in one unit of work, audited.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from db.models import EarlyWarning
from hotline.indices import topics
from hotline.indices.exceptions import IndicesError
from hotline.indices.formulas import DEFINITIONS, INDEX_NAMES, WEIGHTS
from hotline.indices.history import has_sample_history
from hotline.indices.queries import (
    DIMENSION_LABELS,
    GRANULARITY_LABELS,
    Dimension,
    index_table,
    last_folded,
    parse_day,
    trend,
)
from hotline.indices.warning import RULE, dismiss, list_warnings, make_task, warning_view
from hotline.web import audit
from hotline.web.auth import token_hash
from hotline.web.roles import LEADERSHIP, WARNING_HANDLERS
from hotline.web.routing import (
    STREAMING,
    Ctx,
    HTTPError,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
)

if TYPE_CHECKING:
    from hotline.indices.plugin import IndicesPlugin

__all__ = ["register"]

_STATUSES = ("open", "tasked", "dismissed")


def register(router: Router, plugin: IndicesPlugin) -> None:
    """Mount the leader's page and the indices' and warnings' API calls."""
    router.add("GET", "/leader", _page, roles=LEADERSHIP, page=True)
    router.add("POST", "/leader/warnings/{warning_id:int}/task", _task_form,
               roles=WARNING_HANDLERS, page=True)
    router.add("POST", "/leader/warnings/{warning_id:int}/dismiss", _dismiss_form,
               roles=WARNING_HANDLERS, page=True)
    router.add("GET", "/leader/daily/{day:str}", _daily_page, roles=LEADERSHIP, page=True)
    router.add("GET", "/leader/topics", _topics_page, roles=LEADERSHIP, page=True)
    router.add("POST", "/leader/topics", _pick_form, roles=LEADERSHIP, page=True)
    router.add("GET", "/api/topics", _topics, roles=LEADERSHIP)
    router.add("POST", "/api/topics", _pick, roles=LEADERSHIP)
    router.add("GET", "/api/topics/shortlist", _shortlist, roles=LEADERSHIP)
    router.add("GET", "/api/topics/tickets", _cell_tickets, roles=LEADERSHIP)
    router.add("GET", "/api/indices", _indices, roles=LEADERSHIP)
    router.add("GET", "/api/daily-reports", _daily_list, roles=LEADERSHIP)
    router.add("GET", "/api/daily-reports/{day:str}/pdf", _daily_pdf, roles=LEADERSHIP)
    router.add("GET", "/api/indices/trend", _trend, roles=LEADERSHIP)
    router.add("POST", "/api/indices/refresh", _refresh, roles=WARNING_HANDLERS)
    router.add("GET", "/api/warnings", _warnings, roles=LEADERSHIP)
    router.add("GET", "/api/warnings/stream", _stream, roles=LEADERSHIP)
    router.add("POST", "/api/warnings/{warning_id:int}/task", _task, roles=WARNING_HANDLERS)
    router.add("POST", "/api/warnings/{warning_id:int}/dismiss", _dismiss,
               roles=WARNING_HANDLERS)


def _plugin(ctx: Ctx) -> IndicesPlugin:
    return ctx.console.indices


def _http(e: IndicesError) -> HTTPError:
    return HTTPError(e.status_code, e.error_id, e.message, e.details)


def _period(ctx: Ctx) -> tuple[dt.date, dt.date]:
    """``from``/``to`` as sent, else the 30 days up to today (site-local)."""
    today = _plugin(ctx).now().astimezone(ctx.console.zone).date()
    try:
        last = parse_day(ctx.query("to"), "to") if ctx.query("to") else today
        first = (parse_day(ctx.query("from"), "from") if ctx.query("from")
                 else last - dt.timedelta(days=29))
    except IndicesError as e:
        raise _http(e) from None
    return first, last


async def _unit(request: Ctx, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await request.console.db.run(fn, *args, **kwargs)
    except IndicesError as e:
        raise _http(e) from None


def _read(session: Session, by: str, first: dt.date, last: dt.date, step: str,
          grid: str | None) -> dict[str, Any]:
    rows = index_table(session, by, first, last)
    points = trend(session, first, last, step=step, grid=grid)
    day, folded_at = last_folded(session)
    return {"sample": has_sample_history(session),"by": by, "from": first.isoformat(), "to": last.isoformat(), "step": step,
            "grid": grid, "definitions": DEFINITIONS, "weights": WEIGHTS,
            "names": INDEX_NAMES, "rows": [r.as_dict() for r in rows],
            "trend": [p.as_dict() for p in points],
            "folded_through": day.isoformat() if day else None,
            "folded_at": folded_at.isoformat() if folded_at else None}


async def _indices(ctx: Ctx) -> Response:
    first, last = _period(ctx)
    by = ctx.query("by") or "grid"
    data = await _unit(ctx, _read, by, first, last, ctx.query("step") or "day",
                       ctx.query("grid") or None)
    await ctx.console.audit(ctx, "view", target="/api/indices", details={"by": by})
    return json_response(data)


async def _trend(ctx: Ctx) -> Response:
    first, last = _period(ctx)
    points = await _unit(ctx, trend, first, last, step=ctx.query("step") or "day",
                         grid=ctx.query("grid") or None)
    return json_response({"from": first.isoformat(), "to": last.isoformat(),
                          "points": [p.as_dict() for p in points]})


async def _refresh(ctx: Ctx) -> Response:
    result = await _plugin(ctx).refresh_now()
    await ctx.console.audit(ctx, "indices.refresh", details={"folded": len(result["folded"])})
    return json_response(result)


def _status(ctx: Ctx) -> str | None:
    status = ctx.query("status") or None
    if status is not None and status not in _STATUSES:
        raise HTTPError(400, "bad-status", f"status is one of {', '.join(_STATUSES)}",
                        {"status": status})
    return status


async def _warnings(ctx: Ctx) -> Response:
    views = await _unit(ctx, list_warnings, status=_status(ctx))
    return json_response({"rule": RULE, "warnings": views})


async def _stream(ctx: Ctx) -> object:
    stream = _plugin(ctx).stream
    if stream.full:
        raise HTTPError(503, "too-many-streams", "too many open event streams")
    user = ctx.user
    assert user is not None
    events = ctx.console.events
    events.admit(user)  # the user's cap counts every kind of stream
    events.adopt(stream.attach(ctx.request, role=user.role, department=None,
                               username=user.username, session=token_hash(user.token)))
    return STREAMING


def _to_task(session: Session, warning_id: int, plugin: IndicesPlugin, ctx: Ctx
             ) -> dict[str, Any]:
    assert ctx.user is not None
    ticket = make_task(session, warning_id, tickets=plugin.tickets, actor=ctx.user.username)
    audit.record(session, actor=ctx.user.username, role=ctx.user.role, action="warning.task",
                 target=f"warning:{warning_id}", outcome="ok", ip=ctx.ip,
                 details={"ticket": ticket.number})
    return {"ticket_id": ticket.id, "number": ticket.number,
            "warning": warning_view(session.get(EarlyWarning, warning_id))}


def _dismissed(session: Session, warning_id: int, ctx: Ctx) -> dict[str, Any]:
    assert ctx.user is not None
    warning = dismiss(session, warning_id, actor=ctx.user.username)
    audit.record(session, actor=ctx.user.username, role=ctx.user.role,
                 action="warning.dismiss", target=f"warning:{warning_id}", outcome="ok",
                 ip=ctx.ip)
    return warning_view(warning)


async def _task(ctx: Ctx) -> Response:
    wid = ctx.params["warning_id"]
    result = await _unit(ctx, _to_task, wid, _plugin(ctx), ctx)
    return json_response(result, status=201)


async def _dismiss(ctx: Ctx) -> Response:
    return json_response(await _unit(ctx, _dismissed, ctx.params["warning_id"], ctx))


async def _task_form(ctx: Ctx) -> Response:
    result = await _unit(ctx, _to_task, ctx.params["warning_id"], _plugin(ctx), ctx)
    return redirect(f"/tickets/{result['ticket_id']}")


async def _dismiss_form(ctx: Ctx) -> Response:
    await _unit(ctx, _dismissed, ctx.params["warning_id"], ctx)
    return redirect("/leader#warnings")


# -- 每月一题 ---------------------------------------------------------------------------------------

def _month(ctx: Ctx) -> str:
    return (ctx.query("month") or f"{_plugin(ctx).now().astimezone(ctx.console.zone):%Y-%m}")[:7]


async def _shortlist(ctx: Ctx) -> Response:
    month = _month(ctx)
    return json_response({"month": month, "rule": topics.RULE,
                          "shortlist": await _unit(ctx, topics.shortlist, month)})


async def _cell_tickets(ctx: Ctx) -> Response:
    rows = await _unit(ctx, topics.cell_tickets, _month(ctx), ctx.query("grid") or "",
                       ctx.query("category") or "", timezone=_plugin(ctx).timezone)
    return json_response({"tickets": rows})


async def _topics(ctx: Ctx) -> Response:
    return json_response({"topics": await _unit(ctx, topics.topics)})


def _picked(session: Session, fields: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    assert ctx.user is not None
    topic = topics.pick(session, str(fields.get("month") or "")[:7],
                        str(fields.get("grid") or "")[:32], str(fields.get("category") or ""),
                        actor=ctx.user.username, note=(str(fields.get("note") or "")[:500]
                                                       or None))
    audit.record(session, actor=ctx.user.username, role=ctx.user.role, action="topic.pick",
                 target=f"topic:{topic.month}", outcome="ok", ip=ctx.ip,
                 details={"grid": topic.grid.code, "category": topic.category})
    return {"month": topic.month, "grid": topic.grid.code, "category": topic.category,
            "picked_by": topic.picked_by}


async def _pick(ctx: Ctx) -> Response:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise HTTPError(400, "bad-body", "send an object: month, grid, category[, note]")
    return json_response(await _unit(ctx, _picked, body, ctx), status=201)


async def _pick_form(ctx: Ctx) -> Response:
    fields = {name: ctx.form(name) for name in ("month", "grid", "category", "note")}
    await _unit(ctx, _picked, fields, ctx)
    return redirect(f"/leader/topics?month={fields['month']}")


async def _topics_page(ctx: Ctx) -> Response:
    month = _month(ctx)
    grid, category = ctx.query("grid"), ctx.query("category")
    candidates = await _unit(ctx, topics.shortlist, month)
    drill = (await _unit(ctx, topics.cell_tickets, month, grid, category,
                         timezone=_plugin(ctx).timezone) if grid and category else None)
    chosen = await _unit(ctx, topics.topics)
    await ctx.console.audit(ctx, "view", target="/leader/topics")
    body = ctx.console.render_page(
        "topics.html", ctx, templates=_plugin(ctx).templates, month=month,
        candidates=candidates, drill=drill, grid=grid, category=category, topics=chosen,
        rule=topics.RULE)
    return html_response(body)


# -- the daily report inbox ---------------------------------------------------------------------

def _inbox(session: Session, limit: int = 30) -> list[dict[str, Any]]:
    """The stored daily reports (民情报告), newest first: day, when written, tickets."""
    from sqlalchemy import select

    from db.models import ReportRecord
    from hotline.reports.daily import KIND

    return [{"day": r.day, "generated_at": r.generated_at.isoformat(),
             "tickets": (r.data or {}).get("tickets")}
            for r in session.scalars(select(ReportRecord).where(ReportRecord.kind == KIND)
                                     .order_by(ReportRecord.day.desc()).limit(limit))]


def _stored(session: Session, day: str) -> str:
    from hotline.reports.daily import load_daily

    record = load_daily(session, day[:10])
    if record is None:
        raise HTTPError(404, "no-such-report", f"no daily report of {day[:10]!r} was written",
                        {"day": day[:10]})
    return record.html


async def _daily_list(ctx: Ctx) -> Response:
    return json_response({"reports": await _unit(ctx, _inbox)})


async def _daily_page(ctx: Ctx) -> Response:
    html = await _unit(ctx, _stored, ctx.params["day"])
    await ctx.console.audit(ctx, "view", target=f"/leader/daily/{ctx.params['day'][:10]}")
    resp = html_response(html)
    from hotline.reports.http import REPORT_CSP

    resp.headers[b"Content-Security-Policy"] = REPORT_CSP
    return resp


async def _daily_pdf(ctx: Ctx) -> Response:
    from twisted.internet import threads

    from hotline.reports.pdf import html_to_pdf

    day = ctx.params["day"][:10]
    html = await _unit(ctx, _stored, day)
    pdf = await threads.deferToThreadPool(ctx.console.reactor, ctx.console.db.pool,
                                          html_to_pdf, html)
    await ctx.console.audit(ctx, "download", target=f"/api/daily-reports/{day}/pdf")
    resp = Response(200, pdf, b"application/pdf")
    resp.headers[b"Content-Disposition"] = (
        f"attachment; filename=\"daily-{day}.pdf\"; filename*=UTF-8''%E6%B0%91%E6%83%85"
        f"%E6%8A%A5%E5%91%8A-{day}.pdf").encode()
    return resp


def _chart(points: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Bar heights (0-100) of one index over the trend, for the page's inline chart."""
    values = [p.get(key) or 0 for p in points]
    top = max(values, default=0) or 1
    return {"key": key, "name": INDEX_NAMES.get(key, "诉求量"),
            "bars": [{"label": p["label"], "value": v, "height": round(100 * v / top, 1)}
                     for p, v in zip(points, values, strict=True)], "max": top}


async def _page(ctx: Ctx) -> Response:
    first, last = _period(ctx)
    by = ctx.query("by") or "grid"
    step = ctx.query("step") or "day"
    data = await _unit(ctx, _read, by, first, last, step, ctx.query("grid") or None)
    warnings = await _unit(ctx, list_warnings, limit=50)
    inbox = await _unit(ctx, _inbox)
    await ctx.console.audit(ctx, "view", target="/leader")
    assert ctx.user is not None
    body = ctx.console.render_page(
        "leader.html", ctx, templates=_plugin(ctx).templates, data=data,
        dimensions=DIMENSION_LABELS, steps=GRANULARITY_LABELS, current=Dimension(by),
        demand_chart=_chart(data["trend"], "demands"),
        composite_chart=_chart(data["trend"], "composite"), warnings=warnings, rule=RULE,
        may_act=ctx.user.role in WARNING_HANDLERS, inbox=inbox)
    return html_response(body)


def openapi_paths() -> dict[str, Any]:
    """The calls above for ``/api/openapi.json`` (merged by ``hotline.openapi``)."""
    error = {"$ref": "#/components/schemas/Error"}
    obj = {"type": "object"}

    def responses(status: str, *codes: int) -> dict[str, Any]:
        text = {400: "bad input (the message names the field)", 401: "not signed in",
                403: "role not allowed, or CSRF token missing", 404: "no such warning",
                415: "body is not JSON",
                409: "the warning was already turned into a task or dismissed",
                503: "too many streams"}
        out = {status: {"description": "OK", "content": {"application/json": {"schema": obj}}}}
        out.update({str(c): {"description": text[c], "content": {
            "application/json": {"schema": error}}} for c in codes})
        return out

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    day = {"type": "string", "format": "date"}
    period = [query("from", day, "first site-local day (default: 29 days before `to`)"),
              query("to", day, "last site-local day, included (default: today)")]
    step = query("step", {"type": "string", "enum": ["day", "week", "month"]},
                 "trend step (default day)")
    grid = query("grid", {"type": "string", "maxLength": 32},
                 "a level-1 grid's code: its trend instead of the district's")
    session = [{"session": []}]
    write = [{"session": [], "csrf": []}]
    warning_id = {"name": "warning_id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}
    return {
        "/api/indices": {"get": {
            "summary": "Dimension indices (维度指数) per street, community, grid, department or "
                       "category over a period, with their formulas, weights and the trend",
            "security": session,
            "parameters": [query("by", {"type": "string", "enum": [d.value for d in Dimension]},
                                 "rows of the table (default grid)"), *period, step, grid],
            "responses": responses("200", 400, 401, 403)}},
        "/api/indices/trend": {"get": {
            "summary": "The district's (or one grid's) indices per day, week or month",
            "security": session, "parameters": [*period, step, grid],
            "responses": responses("200", 400, 401, 403)}},
        "/api/indices/refresh": {"post": {
            "summary": "Fold the days that can have changed since the last fold into the "
                       "aggregate and scan for early warnings now (the controller does it every "
                       "indices.refresh_s)",
            "security": write, "responses": responses("200", 401, 403)}},
        "/api/daily-reports": {"get": {
            "summary": "The leaders' inbox: the stored daily reports (民情报告), newest first",
            "security": session, "responses": responses("200", 401, 403)}},
        "/api/daily-reports/{day}/pdf": {"get": {
            "summary": "One stored daily report as a PDF (Chinese font embedded)",
            "security": session,
            "parameters": [{"name": "day", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "date"}}],
            "responses": {"200": {"description": "the PDF", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                **{k: v for k, v in responses("200", 401, 403, 404).items() if k != "200"}}}},
        "/api/topics": {
            "get": {"summary": "每月一题: every month's picked topic with its follow-up by month",
                    "security": session, "responses": responses("200", 401, 403)},
            "post": {"summary": "Pick a grid × category as a month's topic (replaces that "
                                "month's choice)",
                     "security": write,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["month", "grid", "category"],
                                    "properties": {
                                        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                        "grid": {"type": "string", "maxLength": 32},
                                        "category": {"type": "string", "maxLength": 50},
                                        "note": {"type": "string", "maxLength": 500}}}}}},
                     "responses": responses("201", 400, 401, 403, 415)}},
        "/api/topics/shortlist": {"get": {
            "summary": "A month's shortlist of recurring problems (grid × category), ranked",
            "security": session,
            "parameters": [query("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                 "YYYY-MM (default: this month)")],
            "responses": responses("200", 400, 401, 403)}},
        "/api/topics/tickets": {"get": {
            "summary": "Drill-down: a month's tickets of one grid × category",
            "security": session,
            "parameters": [query("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                 "YYYY-MM"),
                           query("grid", {"type": "string", "maxLength": 32}, "level-1 grid"),
                           query("category", {"type": "string", "maxLength": 50}, "category")],
            "responses": responses("200", 400, 401, 403)}},
        "/api/warnings": {"get": {
            "summary": "Early warnings (风险预警) with their evidence and the rule, newest first",
            "security": session,
            "parameters": [query("status", {"type": "string", "enum": list(_STATUSES)},
                                 "only warnings in this state")],
            "responses": responses("200", 400, 401, 403)}},
        "/api/warnings/stream": {"get": {
            "summary": "Server-Sent Events: `warning` for each early warning raised",
            "security": session,
            "responses": {"200": {"description": "an event stream",
                                  "content": {"text/event-stream": {"schema": {
                                      "type": "string"}}}},
                          **{k: v for k, v in responses("200", 401, 403, 503).items()
                             if k != "200"}}}},
        "/api/warnings/{warning_id}/task": {"post": {
            "summary": "Turn an open warning into a proactive task (未诉先办): a ticket in its grid "
                       "and category, received for the dispatcher",
            "security": write, "parameters": [warning_id],
            "responses": responses("201", 401, 403, 404, 409)}},
        "/api/warnings/{warning_id}/dismiss": {"post": {
            "summary": "Close an open warning without a task",
            "security": write, "parameters": [warning_id],
            "responses": responses("200", 401, 403, 404, 409)}},
    }
