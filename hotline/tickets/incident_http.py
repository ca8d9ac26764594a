# -*- test-case-name: tests.tickets.test_incidents -*-
"""The incidents' routes (同类事件批量处理): the JSON API and the console's pages, both on the
units of work of L{hotline.tickets.incidents}. Registered by L{hotline.tickets.plugin}."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hotline.tickets import incidents
from hotline.tickets.exceptions import TicketError
from hotline.tickets.life_api import department_rows
from hotline.web.roles import DISPATCH, LIAISON, SUPERVISION
from hotline.web.routing import (
    Ctx,
    HTTPError,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
)

if TYPE_CHECKING:
    from hotline.tickets.plugin import TicketLife

__all__ = ["register"]

_STEPS: dict[str, tuple[Callable[..., dict[str, Any]], frozenset[str]]] = {
    "dispatch": (incidents.dispatch, DISPATCH),
    "reply": (incidents.reply, LIAISON),
}


def register(router: Router, plugin: TicketLife) -> None:
    router.add("GET", "/api/incidents", _overview, roles=incidents.READERS)
    router.add("POST", "/api/incidents", _confirm(plugin), roles=SUPERVISION)
    router.add("GET", "/api/incidents/{incident_id:int}", _view, roles=incidents.READERS)
    for name, (_, roles) in _STEPS.items():
        router.add("POST", f"/api/incidents/{{incident_id:int}}/{name}", _step(plugin, name),
                   roles=roles)
        router.add("POST", f"/incidents/{{incident_id:int}}/do/{name}", _step_form(plugin, name),
                   roles=roles, page=True)
    router.add("GET", "/incidents", _list_page, roles=incidents.READERS, page=True)
    router.add("POST", "/incidents/confirm", _confirm_form(plugin), roles=SUPERVISION,
               page=True)
    router.add("GET", "/incidents/{incident_id:int}", _page, roles=incidents.READERS, page=True)


async def _run(ctx: Ctx, plugin: TicketLife, action: str, target: str | None,
               work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """One unit of work as the signed-in user; a refusal is audited, then raised; the tickets
    that changed are pushed to the lists."""
    console, user = ctx.console, ctx.user
    try:
        data = await console.db.run(work, console.tickets, user, *args, ip=ctx.ip)
    except TicketError as e:
        await console.db.run(incidents.audit_refusal, user, action, target, e, ip=ctx.ip)
        raise
    for row in data.get("tickets", []):
        plugin.stream.ticket_changed(row)
    return data


async def _overview(ctx: Ctx) -> Response:
    return json_response(await ctx.console.db.run(incidents.overview, ctx.console.tickets,
                                                  ctx.user))


async def _view(ctx: Ctx) -> Response:
    return json_response(await ctx.console.db.run(incidents.view, ctx.console.tickets, ctx.user,
                                                  ctx.params["incident_id"]))


def _confirm(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await _run(ctx, plugin, "confirm", None, incidents.confirm,
                                        ctx.json_body()), 201)
    return handle


def _step(plugin: TicketLife, name: str) -> Any:
    work = _STEPS[name][0]

    async def handle(ctx: Ctx) -> Response:
        incident_id = ctx.params["incident_id"]
        return json_response(await _run(ctx, plugin, name, str(incident_id), work, incident_id,
                                        ctx.json_body()))
    handle.__name__ = f"incident_{name}"
    return handle


# -- pages -----------------------------------------------------------------------------------------

async def _list_page(ctx: Ctx) -> Response:
    data = await ctx.console.db.run(incidents.overview, ctx.console.tickets, ctx.user)
    return html_response(ctx.console.render_page(
        "incidents.html", ctx, done=(ctx.query("done") or "")[:40],
        error=(ctx.query("error") or "")[:400], **data))


async def _page(ctx: Ctx) -> Response:
    console = ctx.console

    def read(session: Any) -> dict[str, Any]:
        return {"incident": incidents.view(session, console.tickets, ctx.user,
                                           ctx.params["incident_id"]),
                "departments": department_rows(session)}
    return html_response(console.render_page(
        "incident.html", ctx, done=(ctx.query("done") or "")[:40],
        error=(ctx.query("error") or "")[:400], may_dispatch=ctx.user.role in DISPATCH,
        may_reply=ctx.user.role in LIAISON, **await console.db.run(read)))


def _confirm_form(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        body = {"tickets": [v.decode("utf-8", "replace")
                            for v in ctx.request.args.get(b"tickets") or []],
                "title": ctx.form("title")}
        try:
            data = await _run(ctx, plugin, "confirm", None, incidents.confirm, body)
        except TicketError as e:
            return redirect("/incidents?error=" + quote(e.message[:400]))
        return redirect(f"/incidents/{data['id']}?done=confirm")
    return handle


def _step_form(plugin: TicketLife, name: str) -> Any:
    work = _STEPS[name][0]

    async def handle(ctx: Ctx) -> Response:
        incident_id = ctx.params["incident_id"]
        body = {k: ctx.form(k) for k in ("department", "instruction", "text")}
        back = f"/incidents/{incident_id}"
        try:
            await _run(ctx, plugin, name, str(incident_id), work, incident_id, body)
        except TicketError as e:
            if e.status_code == 404:
                raise HTTPError(404, e.error_id, e.message) from None
            return redirect(f"{back}?error=" + quote(e.message[:400]))
        return redirect(f"{back}?done={name}")
    handle.__name__ = f"incident_{name}_form"
    return handle
