# -*- test-case-name: tests.web.test_browser -*-
"""The department liaison's view: the tickets their department leads or co-handles, the most
urgent deadline first with its light, phone numbers masked, the reminders and 督办 notices
pushed as they come, and the reply form (the reply is what the follow-up tells the citizen).
Supervisors and admins see every department's open tickets with a department."""

from __future__ import annotations

from urllib.parse import quote

from hotline.tickets.http import list_tickets
from hotline.tickets.life_api import act
from hotline.tickets.schemas import STATUS_LABELS
from hotline.web.roles import LIAISON, Role
from hotline.web.routing import Ctx, HTTPError, Response, Router, html_response, redirect

__all__ = ["register"]



def register(router: Router) -> None:
    router.add("GET", "/liaison", _page, roles=LIAISON, page=True)
    router.add("POST", "/liaison/tickets/{ticket_id:int}/reply", _reply, roles=LIAISON, page=True)


async def _page(ctx: Ctx) -> Response:
    console = ctx.console
    user = ctx.user
    assert user is not None
    notices: list[dict] = []
    extensions: list[dict] = []
    if user.role == Role.LIAISON:
        data = await console.db.run(console.ticket_life.actions.worklist, user, "department",
                                    limit=200)
        tickets = data["items"]
        notices, extensions = data["notices"], data["extensions"]
    else:  # supervisors and admins look at dispatched work only
        tickets = [t for t in await console.db.run(list_tickets, user, limit=200,
                                                   open_only=True) if t["department"]]
    await console.audit(ctx, "view", target="/liaison")
    return html_response(console.render_page(
        "liaison.html", ctx, tickets=tickets, statuses=STATUS_LABELS, notices=notices,
        extensions=extensions,
        done=(ctx.query("done") or "")[:40], error=(ctx.query("error") or "")[:300]))


async def _reply(ctx: Ctx) -> Response:
    try:
        ticket = await act(ctx, ctx.console.ticket_life, "reply", ctx.params["ticket_id"],
                           {"text": ctx.form("text") or ""})
    except HTTPError:
        raise
    except Exception as e:
        if not hasattr(e, "to_dict") or getattr(e, "status_code", None) == 404:
            raise
        return redirect("/liaison?error=" + quote(e.to_dict()["message"]))
    return redirect("/liaison?done=" + quote(ticket["number"]))
