# -*- test-case-name: tests.tickets.test_life_browser -*-
"""The console's screens of a ticket's life: the forms of the steps on a ticket's page (the page
itself is L{hotline.tickets.http}'s), the dispatcher's queue (派单), the supervisor's 督办 list (overdue tickets, extension requests,
notices, the working-day calendar, duty numbers) and the follow-ups (回访). Forms post to the
same ``TicketActions`` as the API; every list is pushed fresh (``worklist.js`` listens to
``/api/tickets/stream`` and reloads the list's part of the page: no polling).
"""

from __future__ import annotations

import datetime as dt
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hotline.tickets import calendar as site_calendar
from hotline.tickets.actions import FIELDS, UploadedFile
from hotline.tickets.exceptions import InvalidRequest, TicketError
from hotline.tickets.life_api import act, department_rows, set_duty_number
from hotline.tickets.schemas import KIND_LABELS, STATUS_LABELS
from hotline.web import audit
from hotline.web.roles import DESK, DISPATCH, SUPERVISION, TICKET_READERS
from hotline.web.routing import Ctx, HTTPError, Response, Router, html_response, redirect

if TYPE_CHECKING:
    from hotline.tickets.plugin import TicketLife

__all__ = ["register", "form_files"]


def register(router: Router, plugin: TicketLife) -> None:
    router.add("POST", "/tickets/{ticket_id:int}/do/{action:str}", _ticket_form(plugin),
               roles=TICKET_READERS, page=True, max_body=plugin.upload_limit)
    router.add("POST", "/extensions/{extension_id:int}/decide", _decide_form(plugin),
               roles=SUPERVISION, page=True)
    router.add("GET", "/dispatch", _list_page(plugin, "dispatch", "dispatch.html"),
               roles=DISPATCH, page=True)
    router.add("GET", "/supervise", _list_page(plugin, "supervise", "supervise.html"),
               roles=SUPERVISION, page=True)
    router.add("GET", "/follow-up", _list_page(plugin, "follow-up", "follow_up.html"),
               roles=DESK, page=True)
    router.add("POST", "/supervise/calendar", _calendar_form, roles=SUPERVISION, page=True)
    router.add("POST", "/supervise/duty", _duty_form, roles=SUPERVISION, page=True)


def form_files(request: Any) -> tuple[UploadedFile, ...]:
    """The files of a ``multipart/form-data`` post, with their names (twisted.web keeps the
    values of such a form in ``request.args`` but not the files' names). Empty file inputs
    are skipped."""
    ctype = request.getHeader(b"content-type") or b""
    if not ctype.lower().startswith(b"multipart/form-data") or request.content is None:
        return ()
    request.content.seek(0)
    raw = request.content.read()
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype + b"\r\n\r\n"
                                                  + raw)
    files = []
    for part in message.iter_parts():
        name = part.get_filename()
        if part.get_param("name", header="content-disposition") != "files" or not name:
            continue
        data = part.get_payload(decode=True) or b""
        if data:
            files.append(UploadedFile(name, part.get_content_type(), data))
    return tuple(files)


def _messages(ctx: Ctx) -> dict[str, str]:
    return {"done": (ctx.query("done") or "")[:40], "error": (ctx.query("error") or "")[:400]}


def _form_payload(ctx: Ctx, action: str) -> dict[str, Any]:
    """The form's fields of ``action`` as the API would take them."""
    payload: dict[str, Any] = {}
    for field in (*FIELDS[action], "version"):
        if field == "co_departments":
            values = ctx.request.args.get(b"co_departments") or []
            payload[field] = [v.decode("utf-8", "replace") for v in values if v]
        elif field == "attachments":
            continue
        else:
            value = ctx.form(field)
            if value is not None and (value != "" or action == "edit"):
                payload[field] = value
    return payload


def _ticket_form(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        action = ctx.params["action"].replace("-", "_")
        ticket_id = ctx.params["ticket_id"]
        if action not in FIELDS:
            raise HTTPError(404, "not-found", f"no step {action!r}")
        files = form_files(ctx.request) if action == "reply" else ()
        back = f"/tickets/{ticket_id}"
        try:
            await act(ctx, plugin, action, ticket_id, _form_payload(ctx, action), files)
        except TicketError as e:
            if e.status_code == 404:
                raise
            return redirect(f"{back}?error=" + quote(e.message[:400]))
        return redirect(f"{back}?done={action}")
    return handle


def _decide_form(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        extension_id = ctx.params["extension_id"]
        back = ctx.form("back") or "/supervise"
        if not back.startswith("/") or back.startswith("//"):
            back = "/supervise"
        try:
            view = await ctx.console.db.run(
                plugin.actions.decide_extension, user, extension_id,
                approve=ctx.form("approve"), note=ctx.form("note"),
                version=ctx.form("version"), ip=ctx.ip)
        except TicketError as e:
            await ctx.console.db.run(plugin.actions.audit_refusal, user, "extension.decide",
                                     str(extension_id), e, ip=ctx.ip)
            return redirect(f"{back}?error=" + quote(e.message[:400]))
        plugin.stream.ticket_changed(view)
        return redirect(f"{back}?done=decide_extension")
    return handle


def _list_page(plugin: TicketLife, name: str, template: str) -> Any:
    async def handle(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        data = await ctx.console.db.run(plugin.actions.worklist, user, name,
                                        department=ctx.query("department") or None,
                                        limit=100)
        extra: dict[str, Any] = {}
        if name == "follow-up" and user.agent_code:
            extra["mine"] = (await ctx.console.db.run(plugin.actions.worklist, user, "mine",
                                                      limit=100))["items"]
        if name == "supervise":
            today = dt.datetime.now(ctx.console.zone).date()
            extra["calendar_days"] = [d.as_dict() for d in await ctx.console.db.run(
                site_calendar.list_days, today.replace(month=1, day=1),
                today.replace(month=12, day=31), exceptions_only=True)]
            extra["departments"] = await ctx.console.db.run(department_rows)
        await ctx.console.audit(ctx, "view", target=f"/{name}")
        return html_response(ctx.console.render_page(
            template, ctx, data=data, kinds=KIND_LABELS, statuses=STATUS_LABELS,
            list_name=name, **extra, **_messages(ctx)))
    return handle


async def _calendar_form(ctx: Ctx) -> Response:
    user = ctx.user
    assert user is not None
    try:
        day = site_calendar.parse_day(ctx.form("day") or "")
        workday = ctx.form("workday")
        if workday not in ("1", "0"):
            raise InvalidRequest({"workday": "choose a working day or a day off"})
        note = (ctx.form("note") or "").strip() or None

        def add(session: Any) -> None:
            site_calendar.add_day(session, day, workday=workday == "1", note=note,
                                  actor=user.username)
            audit.record(session, actor=user.username, role=user.role, action="calendar.add",
                         target=day.isoformat(), ip=ctx.ip,
                         details={"workday": workday == "1", "note": note})
        await ctx.console.db.run(add)
    except TicketError as e:
        return redirect("/supervise?error=" + quote(e.message[:400]))
    return redirect("/supervise?done=calendar")


async def _duty_form(ctx: Ctx) -> Response:
    user = ctx.user
    assert user is not None
    try:
        await ctx.console.db.run(set_duty_number, ctx.form("code") or "",
                                 (ctx.form("number") or "").strip() or None,
                                 actor=user.username, role=user.role, ip=ctx.ip)
    except TicketError as e:
        return redirect("/supervise?error=" + quote(e.message[:400]))
    return redirect("/supervise?done=duty")
