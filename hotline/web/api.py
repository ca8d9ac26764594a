# -*- test-case-name: tests.web.test_api -*-
"""The console's own JSON API under ``/api/``: who am I, drafts and the audit log, and the
helpers every package's ``http.py`` shares (integer parameters, a service that is not
connected, an audited refusal). The resources of tickets, calls, agents, the directory, the
bridge and callbacks live beside their packages (``hotline/<package>/http.py``). Signed-in by
the console's session cookie; every state-changing call needs the ``X-CSRF-Token`` header."""

from __future__ import annotations

from typing import Any

from hotline.web import accounts, audit
from hotline.web.accounts import AccountError
from hotline.web.roles import DESK, SUPERVISION, TICKET_READERS
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register", "int_param", "need", "refused"]


def register(router: Router) -> None:
    """Mount ``/api/me``, the drafts and the audit log."""
    router.add("GET", "/api/me", _me, roles=TICKET_READERS)
    router.add("GET", "/api/drafts/{key:str}", _get_draft, roles=DESK)
    router.add("PUT", "/api/drafts/{key:str}", _put_draft, roles=DESK)
    router.add("DELETE", "/api/drafts/{key:str}", _delete_draft, roles=DESK)
    router.add("GET", "/api/audit", _audit, roles=SUPERVISION)


def int_param(ctx: Ctx, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within [lo, hi]; 400 naming the parameter otherwise."""
    raw = ctx.query(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, "invalid-parameter", f"{name} must be an integer",
                        {"parameter": name}) from None
    if not lo <= value <= hi:
        raise HTTPError(400, "invalid-parameter", f"{name} must be between {lo} and {hi}",
                        {"parameter": name})
    return value


def need(service: Any, what: str) -> Any:
    """C{service}, or 503 saying C{what} is not connected to this console."""
    if service is None:
        raise HTTPError(503, "not-available", f"{what} is not connected to this console")
    return service


async def refused(ctx: Ctx, action: str, target: str | None, err: HTTPError) -> HTTPError:
    """Audit a refused action with its reason; returns the error for the caller to raise."""
    await ctx.console.audit(ctx, action, target=target, outcome="failed",
                            details={"error_id": err.error_id, "why": err.message})
    return err


async def _me(ctx: Ctx) -> Response:
    u = ctx.user
    assert u is not None
    return json_response({"username": u.username, "display_name": u.display_name,
                          "role": u.role, "agent_code": u.agent_code,
                          "department": u.department_code, "csrf_token": ctx.csrf()})


def _draft_error(e: AccountError) -> HTTPError:
    return HTTPError(400, "invalid-draft", str(e))


async def _get_draft(ctx: Ctx) -> Response:
    try:
        draft = await ctx.console.db.run(accounts.get_draft, ctx.user.user_id, ctx.params["key"])
    except AccountError as e:
        raise _draft_error(e) from None
    if draft is None:
        raise HTTPError(404, "no-draft", "no draft under this key")
    return json_response(draft)


async def _put_draft(ctx: Ctx) -> Response:
    body = ctx.json_body()
    data = body.get("data") if isinstance(body, dict) else None
    try:
        return json_response(await ctx.console.db.run(
            accounts.save_draft, ctx.user.user_id, ctx.params["key"], data))
    except AccountError as e:
        raise _draft_error(e) from None


async def _delete_draft(ctx: Ctx) -> Response:
    try:
        gone = await ctx.console.db.run(accounts.delete_draft, ctx.user.user_id,
                                        ctx.params["key"])
    except AccountError as e:
        raise _draft_error(e) from None
    return json_response({"deleted": gone})


# -- audit ---------------------------------------------------------------------------------------

async def _audit(ctx: Ctx) -> Response:
    limit = int_param(ctx, "limit", 100, 1, 1000)
    actor = ctx.query("actor") or None
    rows = await ctx.console.db.run(
        lambda s: [audit.entry_to_dict(e) for e in audit.recent(s, limit=limit, actor=actor)])
    return json_response({"entries": rows})
