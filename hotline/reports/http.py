# -*- test-case-name: tests.web.test_reports -*-
"""The supervisor reports in the console: an index with a filter form, every view of
``hotline.reports.pages.VIEWS`` under ``/reports/{name}`` and the live wall board.

The views do the work (on the database's thread pool); this module only picks what to send:
a download (CSV) with its file name, a printable document (``print=1``, or the stored daily
report), a raw chart (``raw=1``), or the fragment inside the console's own page. The wall board
is pushed over the console's event streams, never polled: one ``WallboardFeed`` (the
controller's when it hangs one on the console as ``console.wallboard``, else one built here and
run only while a board page is open) and one SSE stream per open page.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.logger import Logger
from twisted.web.server import Request

from db.models import Department
from hotline.reports import render
from hotline.reports.pages import VIEWS, Rendered, SiteSettings
from hotline.reports.wallboard import WallboardFeed
from hotline.web.auth import token_hash
from hotline.web.events import StreamClient as _Client
from hotline.web.roles import SUPERVISION
from hotline.web.routing import (
    SECURITY_HEADERS,
    STREAMING,
    Ctx,
    Response,
    Router,
    html_response,
)

if TYPE_CHECKING:
    from hotline.web.app import WebConsole

__all__ = ["register", "REPORT_LABELS", "GROUPINGS", "WallboardStreams", "REPORT_CSP"]

_log = Logger(namespace="hotline.web.reports")

#: The report pages carry inline styles (bar widths, the printable page's own sheet); scripts
#: stay limited to our own files.
REPORT_CSP = SECURITY_HEADERS[b"Content-Security-Policy"].replace(
    b"style-src 'self'", b"style-src 'self' 'unsafe-inline'")

REPORT_LABELS = {"sla": "定时回复考核（回访 SLA）", "rates": "响应率 · 办结率 · 满意率",
                 "daily": "民情日报", "heat-map": "网格热力图", "pressure": "话务压力曲线",
                 "wallboard": "实时大屏", "service": "服务水平（按时 / 按日）"}
GROUPINGS = {"department": "按部门", "agent": "按坐席", "category": "按类别",
             "channel": "按渠道"}
#: Views whose HTML has a fragment form that fits inside the console's page.
_FRAGMENTS = frozenset({"sla", "rates", "heat-map", "service", "pressure"})


def register(router: Router, console: WebConsole) -> WallboardStreams:
    """Mount the index, the wall board and every report view (supervisors and admins);
    returns the wall board's streams (stopped with the console)."""
    streams = WallboardStreams(console)
    router.add("GET", "/reports", _index, roles=SUPERVISION, page=True)
    router.add("GET", "/reports/report.css", _stylesheet, roles=SUPERVISION, page=True)
    router.add("GET", "/reports/wallboard", streams.page, roles=SUPERVISION, page=True)
    router.add("GET", "/reports/wallboard/events", streams.open, roles=SUPERVISION)
    router.add("GET", "/api/reports/service", _json_view("service"), roles=SUPERVISION)
    router.add("GET", "/api/reports/pressure", _json_view("pressure"), roles=SUPERVISION)
    for name, view in VIEWS.items():
        router.add("GET", f"/reports/{name}", _mount(name, view), roles=SUPERVISION, page=True)
    return streams


def _settings(console: WebConsole) -> SiteSettings:
    return SiteSettings.from_config(console.config)


def _departments(session: Session) -> list[tuple[str, str]]:
    return [(code, name) for code, name in session.execute(
        select(Department.code, Department.name).order_by(Department.code))]


def _text(ctx: Ctx, name: str, limit: int = 40) -> str:
    return (ctx.query(name) or "")[:limit]


def _filters(ctx: Ctx, console: WebConsole) -> dict[str, str]:
    """The filter form's values (as sent, or this week up to today)."""
    today = dt.datetime.now(console.zone).date()
    return {"from": _text(ctx, "from") or (today - dt.timedelta(days=today.weekday()))
            .isoformat(), "to": _text(ctx, "to") or today.isoformat(),
            "department": _text(ctx, "department"), "by": _text(ctx, "by") or "department",
            "date": _text(ctx, "date") or (today - dt.timedelta(days=1)).isoformat()}


def _page(ctx: Ctx, template: str, **values: Any) -> Response:
    resp = html_response(ctx.console.render_page(template, ctx, labels=REPORT_LABELS,
                                                 groupings=GROUPINGS, **values))
    resp.headers[b"Content-Security-Policy"] = REPORT_CSP
    return resp


async def _index(ctx: Ctx) -> Response:
    console = ctx.console
    departments = await console.db.run(_departments)
    await console.audit(ctx, "view", target="/reports")
    return _page(ctx, "reports.html", departments=departments, f=_filters(ctx, console),
                 current=None)


def _json_view(name: str) -> Any:
    """``GET /api/reports/{name}``: the view's ``format=json`` answer, for other tools."""

    async def handler(ctx: Ctx) -> Response:
        args: dict[bytes, list[bytes]] = dict(ctx.request.args)
        args[b"format"] = [b"json"]
        rendered: Rendered = await ctx.console.db.run(VIEWS[name], args,
                                                      settings=_settings(ctx.console))
        await ctx.console.audit(ctx, "report", target=ctx.path)
        return Response(200, rendered.body, rendered.content_type.encode())

    handler.__name__ = f"{name}_json"
    return handler


async def _stylesheet(ctx: Ctx) -> Response:
    css = resources.files("hotline.reports").joinpath("templates", "report.css").read_bytes()
    return Response(200, css, b"text/css; charset=utf-8")


def _mount(name: str, view: Any) -> Any:
    """The handler of ``GET /reports/{name}``: the view run on the database's pool."""

    async def handler(ctx: Ctx) -> Response:
        console = ctx.console
        args: dict[bytes, list[bytes]] = dict(ctx.request.args)
        printable = ctx.query("print") in ("1", "yes") or ctx.query("raw") in ("1", "yes")
        if not printable and name in _FRAGMENTS:
            args[b"fragment"] = [b"1"]
        rendered: Rendered = await console.db.run(view, args, settings=_settings(console))
        await console.audit(ctx, "report", target=ctx.path,
                            details={k.decode("utf-8", "replace"): v[0].decode(
                                "utf-8", "replace")[:60] for k, v in ctx.request.args.items()
                                if v})
        kind = rendered.content_type.split(";")[0]
        if rendered.filename or printable or kind not in ("text/html", "image/svg+xml") \
                or rendered.body.lstrip()[:15].lower() == b"<!doctype html>":
            resp = Response(200, rendered.body, rendered.content_type.encode())
            if rendered.filename:
                resp.headers[b"Content-Disposition"] = rendered.disposition.encode()
            resp.headers[b"Content-Security-Policy"] = REPORT_CSP
            return resp
        departments = await console.db.run(_departments)
        query = ctx.request.uri.decode("ascii", "replace").partition("?")[2]
        return _page(ctx, "reports_view.html", departments=departments,
                     f=_filters(ctx, console), current=name, title=REPORT_LABELS[name],
                     content=rendered.body.decode("utf-8"), query=query,
                     kind="svg" if kind == "image/svg+xml" else "html")

    handler.__name__ = f"report_{name.replace('-', '_')}"
    return handler


class _BoardClient(_Client):
    """A wall board page's stream: it hears the board, not the calls the desk streams carry."""

    def send(self, event: str, data: Any) -> None:
        if event in ("hello", "wallboard"):
            super().send(event, data)


class WallboardStreams:
    """The wall board pages of one console and the feed that fills them.

    The streams sit in the console's ``events.clients`` (so they share its keep-alive, its
    limit and its shutdown); the feed runs while at least one board is open.
    """

    def __init__(self, console: WebConsole) -> None:
        self.console = console
        self.clients: list[_BoardClient] = []
        self._own: WallboardFeed | None = None
        self._remove: Any = None

    @property
    def feed(self) -> WallboardFeed:
        """The controller's feed when it hung one on the console, else our own."""
        shared = getattr(self.console, "wallboard", None)
        if shared is not None:
            return shared
        if self._own is None:
            settings = self.console.config["reports"]
            self._own = WallboardFeed(
                calls=self.console.calls, database=self.console.db,
                timezone=self.console.config["site"]["timezone"],
                service_level_s=float(settings["service_level_s"]),
                interval_s=float(settings["wallboard_interval_s"]),
                clock=self.console.reactor, bus=self.console.deps.bus)
        return self._own

    @property
    def running(self) -> bool:
        """Whether this console's own feed is computing (False when the board is shared)."""
        return self._own is not None and self._remove is not None

    async def page(self, ctx: Ctx) -> Response:
        board = self.feed.last
        if board is None:
            board = await self.feed.figures()
        await ctx.console.audit(ctx, "view", target="/reports/wallboard")
        return _page(ctx, "reports_wallboard.html", tiles=render.wallboard_html(board),
                     current="wallboard", f=_filters(ctx, ctx.console), departments=[])

    async def open(self, ctx: Ctx) -> object:
        events = self.console.events
        assert ctx.user is not None
        events.admit(ctx.user)
        request: Request = ctx.request
        request.setResponseCode(200)
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        client = _BoardClient(request, ctx.user.username, None, token_hash(ctx.user.token))
        self.clients.append(client)
        events.clients.append(client)
        request.notifyFinish().addBoth(lambda _: self._gone(client))
        request.write(b"retry: 2000\n\n")
        client.send("hello", {"board": "wallboard"})
        feed = self.feed
        if self._remove is None:
            self._remove = feed.add_listener(self._push)
            if feed is self._own:
                feed.start()
        if feed.last is not None:
            self._send(client, feed.last)
        return STREAMING

    def _gone(self, client: _BoardClient) -> None:
        client.open = False
        for group in (self.clients, self.console.events.clients):
            if client in group:
                group.remove(client)
        if not self.clients:
            self.stop()

    def stop(self) -> None:
        """Stop listening (and computing, for our own feed) when no board is open."""
        if self._remove is not None:
            self._remove()
            self._remove = None
        if self._own is not None:
            self._own.stop()

    def _push(self, board: dict[str, Any]) -> None:
        for client in list(self.clients):
            self._send(client, board)

    @staticmethod
    def _send(client: _BoardClient, board: dict[str, Any]) -> None:
        try:
            client.send("wallboard", {"html": render.wallboard_html(board), "figures": board})
        except Exception:  # noqa: BLE001 - one broken page must not stop the others
            _log.failure("wall board push to {user} failed", user=client.username)
