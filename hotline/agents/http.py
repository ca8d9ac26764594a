# -*- test-case-name: tests.web.test_api -*-
"""The agents' HTTP routes: the seats' states and the signed-in agent's own queue actions."""

from __future__ import annotations

from typing import Any

from hotline.agents.service import AgentError
from hotline.web.api import need
from hotline.web.roles import DESK
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register"]


def register(router: Router) -> None:
    """Mount ``GET /api/agents`` and ``POST /api/agents/me/{action}``."""
    router.add("GET", "/api/agents", _agents, roles=DESK)
    router.add("POST", "/api/agents/me/{action:str}", _agent_action, roles=DESK)


def _status_dict(s: Any) -> dict[str, Any]:
    return {"code": s.code, "name": s.name, "state": s.state,
            "since": s.since.isoformat() if s.since else None, "reason": s.reason}


async def _agents(ctx: Ctx) -> Response:
    agents = need(ctx.console.agents, "the agent service")
    records = await agents.status()
    live = ctx.console.calls.agents() if ctx.console.calls is not None else []
    return json_response({"agents": [_status_dict(s) for s in records], "live": live})


_ACTIONS = ("login", "logout", "pause", "resume")


async def _agent_action(ctx: Ctx) -> Response:
    user = ctx.user
    assert user is not None
    action = ctx.params["action"]
    if action not in _ACTIONS:
        raise HTTPError(404, "not-found", f"no agent action {action!r} "
                        f"(one of {', '.join(_ACTIONS)})")
    agents = need(ctx.console.agents, "the agent service")
    if not user.agent_code:
        raise HTTPError(409, "no-seat", "this account has no agent seat (坐席号); ask an admin")
    reason = None
    if action == "pause":
        body = ctx.json_body()
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise HTTPError(400, "invalid-body", '小休需要原因: send {"reason": "..."}',
                            {"fields": {"reason": "is required"}})
    try:
        if action == "pause":
            status = await agents.pause(user.agent_code, reason)
        else:
            status = await getattr(agents, action)(user.agent_code)
    except AgentError as e:
        await ctx.console.audit(ctx, f"queue.{action}", target=user.agent_code,
                                outcome="failed", details={"why": str(e)})
        raise HTTPError(409, "agent-refused", str(e)) from None
    except Exception as e:  # the PBX link: say so rather than a bare 500
        await ctx.console.audit(ctx, f"queue.{action}", target=user.agent_code,
                                outcome="failed", details={"why": repr(e)})
        raise HTTPError(503, "pbx-unavailable", f"the PBX did not do it: {e}") from None
    await ctx.console.audit(ctx, f"queue.{action}", target=user.agent_code,
                            details={"reason": reason} if reason else None)
    return json_response(_status_dict(status))
