# -*- test-case-name: tests.web.test_bridge_api -*-
"""The three-way bridge's HTTP routes (三方通话), only ever on the signed-in agent's own current
call (L{hotline.bridge.views.current_call}): the body may name the call the page shows, and a
call that is not theirs is refused, never bridged."""

from __future__ import annotations

from typing import Any

from hotline.bridge.outcomes import BridgeError
from hotline.bridge.views import current_call, room_for, room_view
from hotline.web.accounts import Principal
from hotline.web.api import need, refused
from hotline.web.roles import DESK
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register", "BRIDGE_ACTIONS"]


def register(router: Router) -> None:
    """Mount ``GET``/``POST /api/bridge`` and ``POST /api/bridge/{action}``."""
    router.add("GET", "/api/bridge", _bridge_state, roles=DESK)
    router.add("POST", "/api/bridge", _bridge_start, roles=DESK)
    router.add("POST", "/api/bridge/{action:str}", _bridge_action, roles=DESK)


#: ``POST /api/bridge/{action}`` → the bridge service's method.
BRIDGE_ACTIONS = {"leave": "leave", "drop-department": "drop_department",
                  "fallback": "try_fallback"}
_DIGITS = frozenset("0123456789")


def _bridge_parts(ctx: Ctx) -> tuple[Any, Any, Principal, str]:
    """The bridge service, the live call view, the user and their seat; 503/409 without."""
    user = ctx.user
    assert user is not None
    bridge = need(ctx.console.bridge, "the three-way bridge (三方通话)")
    calls = need(ctx.console.calls, "the live call view")
    if not user.agent_code:
        raise HTTPError(409, "no-seat", "this account has no agent seat (坐席号); ask an admin")
    return bridge, calls, user, user.agent_code


def _bridge_body(ctx: Ctx) -> tuple[int, str | None, str | None]:
    """``{"entry": id, "number"?: "...", "call"?: "..."}`` checked; 400 naming the field."""
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid-body", 'send {"entry": <directory id>}')
    unknown = sorted(set(body) - {"entry", "number", "call"})
    if unknown:
        raise HTTPError(400, "invalid-body", f"unknown field {unknown[0]!r}",
                        {"fields": {unknown[0]: "is not a field of this call"}})
    entry = body.get("entry")
    if isinstance(entry, str) and entry and set(entry) <= _DIGITS and len(entry) <= 8:
        entry = int(entry)
    if not isinstance(entry, int) or isinstance(entry, bool) or not 1 <= entry <= 99_999_999:
        raise HTTPError(400, "invalid-body", "entry must be a directory entry's id "
                        "(请选择查号结果中的一项)", {"fields": {"entry": "is required"}})
    number = body.get("number")
    if number is not None and not (isinstance(number, str) and 3 <= len(number) <= 20
                                   and set(number) <= _DIGITS):
        raise HTTPError(400, "invalid-body", "number must be one of the entry's numbers "
                        "(digits only)", {"fields": {"number": "is not a phone number"}})
    call = body.get("call")
    if call is not None and not (isinstance(call, str) and 0 < len(call) <= 64):
        raise HTTPError(400, "invalid-body", "call must be the uniqueid of your call",
                        {"fields": {"call": "is not a call id"}})
    return entry, number, call


async def _bridge_state(ctx: Ctx) -> Response:
    bridge, calls, _, seat = _bridge_parts(ctx)
    room = room_for(bridge, calls, seat)
    if room is None:
        raise HTTPError(404, "no-bridge-room", "没有进行中的三方通话 (no live bridge room at your "
                        "seat)")
    return json_response(room_view(room))


async def _bridge_start(ctx: Ctx) -> Response:
    bridge, calls, user, seat = _bridge_parts(ctx)
    entry, number, asked = _bridge_body(ctx)
    call = current_call(calls, bridge, seat)
    target = call["uniqueid"] if call else asked
    if asked is not None and (call is None or asked not in (call["uniqueid"],
                                                             call.get("hotline_call_id"))):
        raise await refused(ctx, "bridge.start", asked, HTTPError(
            403, "not-your-call", "只能对自己当前的通话发起三方通话 (that call is not your "
            "current call)", {"call": asked}))
    if call is None:
        raise await refused(ctx, "bridge.start", None, HTTPError(
            409, "no-current-call", "您当前没有通话，无法发起三方通话 (no call is ringing or "
            "talking at your seat)"))
    try:
        attempt = await bridge.bridge(call["uniqueid"], entry, number=number)
    except BridgeError as e:
        raise await refused(ctx, "bridge.start", target, HTTPError(
            e.status, e.error_id, str(e), e.details)) from None
    except Exception as e:  # the PBX link: say so rather than a bare 500
        raise await refused(ctx, "bridge.start", target, HTTPError(
            503, "pbx-unavailable", f"the PBX did not do it: {e}")) from None
    room = attempt.room
    await ctx.console.audit(ctx, "bridge.start", target=target, details={
        "entry": entry, "name": room.entry_name, "number": attempt.leg.number,
        "room": room.name})
    return json_response(room_view(room), 201)


async def _bridge_action(ctx: Ctx) -> Response:
    action = ctx.params["action"]
    method = BRIDGE_ACTIONS.get(action)
    if method is None:
        raise HTTPError(404, "not-found", f"no bridge action {action!r} "
                        f"(one of {', '.join(BRIDGE_ACTIONS)})")
    bridge, calls, user, seat = _bridge_parts(ctx)
    audit_action = f"bridge.{action}"
    call = current_call(calls, bridge, seat)
    room = bridge.room_of(call["uniqueid"]) if call is not None else None
    if room is None:
        raise await refused(ctx, audit_action, call["uniqueid"] if call else None,
                                    HTTPError(409, "no-bridge-room",
                                              "您当前的通话不在三方通话中 (your current call is "
                                              "in no bridge room)"))
    try:
        await getattr(bridge, method)(room.call_id)
    except BridgeError as e:
        raise await refused(ctx, audit_action, room.call_uniqueid, HTTPError(
            e.status, e.error_id, str(e), e.details)) from None
    except Exception as e:
        raise await refused(ctx, audit_action, room.call_uniqueid, HTTPError(
            503, "pbx-unavailable", f"the PBX did not do it: {e}")) from None
    await ctx.console.audit(ctx, audit_action, target=room.call_uniqueid,
                            details={"room": room.name})
    return json_response(room_view(room))
