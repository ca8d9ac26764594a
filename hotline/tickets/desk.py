# -*- test-case-name: tests.web.test_browser -*-
"""The agent desk page: one screen for the call pop, the ticket form, the directory, the queue
seat and the callbacks due. The page is a template; its script (static/desk.js) talks to the
JSON API and listens to ``/api/events``."""

from __future__ import annotations

from urllib.parse import urlsplit

from hotline.tickets.schemas import CHANNELS, TicketKind
from hotline.web.roles import DESK
from hotline.web.routing import SECURITY_HEADERS, Ctx, Response, Router, html_response

__all__ = ["register", "KIND_LABELS", "PAUSE_REASONS"]

KIND_LABELS = {TicketKind.COMPLAINT: "投诉", TicketKind.HELP: "求助",
               TicketKind.CONSULTATION: "咨询", TicketKind.SUGGESTION: "建议",
               TicketKind.PRAISE: "表扬"}
PAUSE_REASONS = ("小休", "话后处理", "培训", "会议", "用餐")


def register(router: Router) -> None:
    router.add("GET", "/desk", _desk, roles=DESK, page=True)


async def _desk(ctx: Ctx) -> Response:
    console = ctx.console
    # The browser becomes the agent's phone only when asked (``?phone=browser``): it takes the
    # place of the seat's desk phone in the queue until sign-out.
    browser_phone = (console.softphone is not None and ctx.user is not None
                     and bool(ctx.user.agent_code)
                     and ctx.request.args.get(b"phone", [b""])[0] == b"browser")
    resp = html_response(console.render_page(
        "desk.html", ctx, kinds=KIND_LABELS, categories=console.directory.index.categories,
        pause_reasons=PAUSE_REASONS, bridge=console.bridge is not None,
        channels={c.code: c.label for c in CHANNELS.values()},
        softphone=console.softphone is not None, browser_phone=browser_phone))
    if browser_phone:
        # The page talks to the PBX's WebSocket: allow exactly that origin, nothing more.
        parts = urlsplit(console.softphone.service.ws_url)
        origin = f"{parts.scheme}://{parts.netloc}".encode()
        csp = SECURITY_HEADERS[b"Content-Security-Policy"].replace(
            b"connect-src 'self'", b"connect-src 'self' " + origin)
        resp.headers[b"Content-Security-Policy"] = csp
    return resp
