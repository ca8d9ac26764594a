# -*- test-case-name: tests.web.test_callback_dial -*-
"""The callbacks' HTTP routes: the desk's list of callbacks due, and dialling one now (回拨),
whose progress is pushed to the agent's desks as ``callback`` events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session
from twisted.logger import Logger

from db.models import Agent, Callback, CallbackStatus, Citizen, Ticket, utcnow
from hotline.bridge.views import current_call
from hotline.web.accounts import Principal
from hotline.web.api import int_param, refused
from hotline.web.roles import DESK, Role
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response
from scheduler.store import DialRefused

__all__ = ["register", "due_callbacks"]

_log = Logger(namespace="scheduler.http")


def register(router: Router) -> None:
    """Mount ``GET /api/callbacks`` and ``POST /api/callbacks/{id}/dial``."""
    router.add("GET", "/api/callbacks", _callbacks, roles=DESK)
    router.add("POST", "/api/callbacks/{callback_id:int}/dial", _dial_callback, roles=DESK)


def due_callbacks(session: Session, user: Principal, *, limit: int = 50) -> list[dict[str, Any]]:
    """Pending callbacks this agent owns or anyone may take: the agent's own promises first
    (a burst of anyone's callbacks, an incident's, must not push them off the list), each
    group soonest first."""
    query = (select(Callback, Ticket, Citizen)
             .join(Ticket, Callback.ticket_id == Ticket.id)
             .outerjoin(Citizen, Callback.citizen_id == Citizen.id)
             .where(Callback.status.in_((CallbackStatus.PENDING, CallbackStatus.IN_PROGRESS))))
    if user.role == Role.AGENT:
        agent_id = session.scalar(select(Agent.id).where(Agent.code == (user.agent_code or "")))
        query = query.where(or_(Callback.owner_agent_id.is_(None),
                                Callback.owner_agent_id == agent_id)).order_by(
            case((Callback.owner_agent_id == agent_id, 0), else_=1))
    query = query.order_by(Callback.due_at).limit(limit)
    return [{"id": cb.id, "due_at": cb.due_at.isoformat(), "status": cb.status,
             "attempts": cb.attempts, "ticket_id": t.id, "ticket": t.number,
             "owned": cb.owner_agent_id is not None,
             "category": t.category, "description": t.description[:200],
             "phone": c.phone if c else None,
             "overdue": cb.due_at <= utcnow()}
            for cb, t, c in session.execute(query).all()]


async def _callbacks(ctx: Ctx) -> Response:
    limit = int_param(ctx, "limit", 50, 1, 200)
    return json_response({"callbacks": await ctx.console.db.run(due_callbacks, ctx.user,
                                                                 limit=limit),
                          "can_dial": ctx.console.scheduler is not None
                          and bool(ctx.user and ctx.user.agent_code)})


#: ``DialRefused.reason`` → HTTP status (everything else: 409, not allowed now).
_DIAL_STATUS = {"no-such-callback": 404, "not-yours": 403}


async def _dial_callback(ctx: Ctx) -> Response:
    """The desk's 回拨 button: place that callback now through the scheduler, ringing the
    user's own seat first (``CallbackScheduler.dial_now``); 202 once its attempt is claimed,
    the outcome follows on the event stream."""
    user = ctx.user
    assert user is not None
    callback_id = ctx.params["callback_id"]
    target = str(callback_id)
    if not user.agent_code:
        raise await refused(ctx, "callback.dial", target, HTTPError(
            409, "no-seat", "this account has no agent seat (坐席号); ask an admin"))
    calls = ctx.console.calls
    if calls is not None and current_call(calls, ctx.console.bridge, user.agent_code):
        raise await refused(ctx, "callback.dial", target, HTTPError(
            409, "on-a-call", "您正在通话中，挂机后再回拨 (your seat is on a call: the callback "
            "would ring your phone during it)", {"callback": callback_id}))
    scheduler = ctx.console.scheduler
    try:
        if scheduler is None:
            raise DialRefused("not-running", "回拨调度未接入此控制台 (no callback scheduler on "
                                             "this console)")
        started = await scheduler.dial_now(callback_id, user.agent_code)
    except DialRefused as e:
        raise await refused(ctx, "callback.dial", target, HTTPError(
            _DIAL_STATUS.get(e.reason, 409), e.reason, str(e),
            {"callback": callback_id})) from None
    except Exception as e:  # the database or the PBX link: say so rather than a bare 500
        raise await refused(ctx, "callback.dial", target, HTTPError(
            503, "not-available", f"the callback was not dialled: {e}")) from None
    await ctx.console.audit(ctx, "callback.dial", target=target, details={
        "attempt": started.key, "ticket": started.ticket_number, "seat": user.agent_code})
    _push_progress(ctx.console, started)
    return json_response({"id": callback_id, "attempt": started.key,
                          "ticket": started.ticket_number, "ticket_id": started.ticket_id,
                          "state": "dialling"}, 202)


def _push_progress(console: Any, started: Any) -> None:
    """A callback was dialled from the desk (``CallbackScheduler.dial_now``): tell the agent's
    desks now, and again with the outcome once it is recorded."""
    seat = started.agent_code
    base = {"id": started.callback_id, "attempt": started.key,
            "ticket": started.ticket_number, "ticket_id": started.ticket_id}
    console.events.to_seat(seat, "callback", {**base, "state": "dialling"})

    def ended(result: Any) -> Any:
        d = console.db.run(_callback_state, started.callback_id)
        d.addCallback(lambda row: console.events.to_seat(seat, "callback", {
            **base, **row, "state": "ended", "outcome": result.outcome,
            "detail": result.detail}))
        return d

    def failed(failure: Any) -> None:
        _log.failure("callback {id}: attempt {key} dialled from the desk failed", failure,
                     id=started.callback_id, key=started.key)
        console.events.to_seat(seat, "callback", {
            **base, "state": "error", "message": "回拨出错 (the attempt failed; logged)"})
    started.ended.addCallbacks(ended, failed)
    started.ended.addErrback(lambda f: _log.failure(
        "callback {id}: cannot show the outcome", f, id=started.callback_id))


def _callback_state(session: Session, callback_id: int) -> dict[str, Any]:
    cb = session.get(Callback, callback_id)
    if cb is None:
        return {"status": "gone"}
    return {"status": cb.status, "result": cb.outcome, "attempts": cb.attempts,
            "sla_met": cb.sla_met}
