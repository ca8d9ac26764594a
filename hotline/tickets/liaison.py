# -*- test-case-name: tests.web.test_browser -*-
"""The department liaison's view: the tickets dispatched to their department, phone numbers
masked, and the reply form (the reply is what the callback tells the citizen)."""

from __future__ import annotations

from urllib.parse import quote

from hotline.tickets.http import list_tickets, reply_to_ticket
from hotline.web.roles import LIAISON
from hotline.web.routing import Ctx, HTTPError, Response, Router, html_response, redirect

__all__ = ["register"]

_STATUS_LABELS = {"received": "已受理", "dispatched": "已派单", "handling": "办理中",
                  "replied": "已回复", "followed_up": "已回访", "closed": "已办结",
                  "reopened": "重办", "merged": "已合并"}


def register(router: Router) -> None:
    router.add("GET", "/liaison", _page, roles=LIAISON, page=True)
    router.add("POST", "/liaison/tickets/{ticket_id:int}/reply", _reply, roles=LIAISON, page=True)


async def _page(ctx: Ctx) -> Response:
    tickets = await ctx.console.db.run(list_tickets, ctx.user, limit=200, open_only=True)
    if ctx.user.role != "liaison":  # supervisors and admins look at dispatched work only
        tickets = [t for t in tickets if t["department"]]
    await ctx.console.audit(ctx, "view", target="/liaison")
    return html_response(ctx.console.render_page(
        "liaison.html", ctx, tickets=tickets, statuses=_STATUS_LABELS,
        done=(ctx.query("done") or "")[:40], error=(ctx.query("error") or "")[:300]))


async def _reply(ctx: Ctx) -> Response:
    try:
        ticket = await ctx.console.db.run(reply_to_ticket, ctx.console, ctx.user,
                                          ctx.params["ticket_id"], ctx.form("text") or "", ctx.ip)
    except HTTPError:
        raise
    except Exception as e:
        if not hasattr(e, "to_dict"):
            raise
        return redirect("/liaison?error=" + quote(e.to_dict()["message"]))
    return redirect("/liaison?done=" + quote(ticket["number"]))
