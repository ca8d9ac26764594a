# -*- test-case-name: tests.floor.test_http -*-
"""The floor's HTTP routes: a supervisor's listening legs (``/api/floor/spy``), the kept places
(``/api/floor/kept``) and an agent's after-call work (``/api/floor/wrapup``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotline.agents.service import AgentError
from hotline.floor.keepplace import ORDERING, KeepPlaceError
from hotline.floor.spy import SpyError
from hotline.web.api import need
from hotline.web.roles import DESK, SUPERVISION
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

if TYPE_CHECKING:
    from hotline.floor.plugin import Floor

__all__ = ["register"]


def register(router: Router, floor: Floor | None) -> None:
    """Mount the floor's routes; without a PBX link (C{floor} None) they answer 503."""

    def spy() -> Any:
        return need(floor.spy if floor is not None else None, "listening (the PBX link)")

    def wrapup() -> Any:
        return need(floor.wrapup if floor is not None else None, "after-call work (the PBX link)")

    async def list_spies(ctx: Ctx) -> Response:
        return json_response({"sessions": spy().live()})

    async def start_spy(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        body = _body(ctx)
        call, mode = body.get("call"), body.get("mode", "listen")
        seat = body.get("seat") or user.agent_code or ""
        if not isinstance(call, str) or not call or not isinstance(mode, str) \
                or not isinstance(seat, str):
            raise HTTPError(400, "invalid-body", 'send {"call": "<uniqueid>", "mode": '
                            '"listen|whisper|barge"} (and "seat" for another phone)',
                            {"fields": {"call": "is required"}})
        try:
            session = await spy().start(supervisor=user.username, seat=seat, call=call,
                                        mode=mode, ip=ctx.ip, role=user.role)
        except SpyError as e:
            raise HTTPError(e.status_code, e.error_id, e.message, e.details) from None
        return json_response(session.to_dict(), status=201)

    async def switch_spy(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        mode = _body(ctx).get("mode")
        if not isinstance(mode, str):
            raise HTTPError(400, "invalid-body", 'send {"mode": "listen|whisper|barge"}',
                            {"fields": {"mode": "is required"}})
        try:
            session = await spy().switch(ctx.params["session"], mode, actor=user.username,
                                         ip=ctx.ip, role=user.role)
        except SpyError as e:
            raise HTTPError(e.status_code, e.error_id, e.message, e.details) from None
        return json_response(session.to_dict())

    async def stop_spy(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        try:
            session = await spy().hang_up(ctx.params["session"], actor=user.username,
                                          ip=ctx.ip, role=user.role)
        except SpyError as e:
            raise HTTPError(e.status_code, e.error_id, e.message, e.details) from None
        return json_response(session.to_dict())

    async def my_wrapup(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        w = wrapup()
        code = user.agent_code
        return json_response({"seat": code, "wrapup_s": w.seconds,
                              "remaining_s": w.remaining(code) if code else None})

    async def end_wrapup(ctx: Ctx) -> Response:
        user = ctx.user
        assert user is not None
        if not user.agent_code:
            raise HTTPError(409, "no-seat", "this account has no agent seat (坐席号)")
        try:
            status = await wrapup().end(user.agent_code)
        except AgentError as e:
            await ctx.console.audit(ctx, "queue.wrapup_end", target=user.agent_code,
                                    outcome="failed", details={"why": str(e)})
            raise HTTPError(409, "not-in-wrapup", str(e)) from None
        await ctx.console.audit(ctx, "queue.wrapup_end", target=user.agent_code)
        return json_response({"code": status.code, "state": status.state,
                              "since": status.since.isoformat() if status.since else None})

    def keep_place() -> Any:
        return need(floor.keep_place if floor is not None else None,
                    "keep-my-place (the PBX link)")

    async def list_kept(ctx: Ctx) -> Response:
        return json_response({"ordering": ORDERING, "kept": await keep_place().listing()})

    async def cancel_kept(ctx: Ctx) -> Response:
        key = ctx.params["key"]
        try:
            row = await keep_place().cancel(key)
        except KeepPlaceError as e:
            await ctx.console.audit(ctx, "keep_place.cancel", target=key, outcome="failed",
                                    details={"why": e.error_id})
            raise HTTPError(e.status_code, e.error_id, e.message) from None
        await ctx.console.audit(ctx, "keep_place.cancel", target=key)
        return json_response(row)

    router.add("GET", "/api/floor/kept", list_kept, roles=SUPERVISION)
    router.add("DELETE", "/api/floor/kept/{key:str}", cancel_kept, roles=SUPERVISION)
    router.add("GET", "/api/floor/spy", list_spies, roles=SUPERVISION)
    router.add("POST", "/api/floor/spy", start_spy, roles=SUPERVISION)
    router.add("POST", "/api/floor/spy/{session:str}", switch_spy, roles=SUPERVISION)
    router.add("DELETE", "/api/floor/spy/{session:str}", stop_spy, roles=SUPERVISION)
    router.add("GET", "/api/floor/wrapup", my_wrapup, roles=DESK)
    router.add("POST", "/api/floor/wrapup/end", end_wrapup, roles=DESK)


def _body(ctx: Ctx) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid-body", "the body is a JSON object")
    return body
