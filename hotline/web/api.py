# -*- test-case-name: tests.web.test_api -*-
"""The JSON API under ``/api/``: tickets, live calls, callers, directory, the three-way bridge
of the agent's own call, agents, callbacks (and dialling one now: 回拨), drafts and the audit
log. Signed-in by the console's session cookie; every state-changing call needs the
``X-CSRF-Token`` header. The OpenAPI document is ``/api/openapi.json``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from db.models import Agent, Call, Callback, Citizen, Department, Ticket, utcnow
from hotline import phone
from hotline.agents import AgentError
from hotline.agents.service import interface_of
from hotline.bridge.outcomes import BridgeError
from hotline.tickets.exceptions import NoSuchTicket, TicketError
from hotline.tickets.schemas import OPEN_STATUSES, TicketStatus, load_intake, ticket_summary
from hotline.tickets.service import lookup_caller
from hotline.web import accounts, audit
from hotline.web.accounts import AccountError, Principal
from hotline.web.roles import DESK, REPLIERS, SUPERVISION, TICKET_READERS, Role
from hotline.web.rooms import current_call, room_for, room_view
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register", "load_ticket", "caller_view", "list_tickets", "reply_to_ticket",
           "int_param", "BRIDGE_ACTIONS"]

_STATUSES = {s.value for s in TicketStatus}
#: How deep an agent may page through tickets (and the citizens' numbers on them): the newest
#: this many. An older ticket is found by the caller's number (/api/callers/{number}).
AGENT_PAGE_DEPTH = 200


def register(router: Router, console: Any) -> None:
    from hotline.web.openapi import document

    async def openapi(ctx: Ctx) -> Response:
        return json_response(document(ctx.console))

    router.add("GET", "/api/openapi.json", openapi, roles=None)
    router.add("GET", "/api/me", _me, roles=TICKET_READERS)
    router.add("GET", "/api/tickets", _tickets, roles=TICKET_READERS)
    router.add("POST", "/api/tickets", _create_ticket, roles=DESK)
    router.add("GET", "/api/tickets/{ticket_id:int}", _ticket, roles=TICKET_READERS)
    router.add("POST", "/api/tickets/{ticket_id:int}/reply", _reply, roles=REPLIERS)
    router.add("GET", "/api/calls", _calls, roles=DESK)
    router.add("GET", "/api/callers/{number:str}", _caller, roles=DESK)
    router.add("GET", "/api/directory", _directory, roles=DESK)
    router.add("GET", "/api/agents", _agents, roles=DESK)
    router.add("POST", "/api/agents/me/{action:str}", _agent_action, roles=DESK)
    router.add("GET", "/api/bridge", _bridge_state, roles=DESK)
    router.add("POST", "/api/bridge", _bridge_start, roles=DESK)
    router.add("POST", "/api/bridge/{action:str}", _bridge_action, roles=DESK)
    router.add("GET", "/api/callbacks", _callbacks, roles=DESK)
    router.add("POST", "/api/callbacks/{callback_id:int}/dial", _dial_callback, roles=DESK)
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


def _need(service: Any, what: str) -> Any:
    if service is None:
        raise HTTPError(503, "not-available", f"{what} is not connected to this console")
    return service


# -- tickets -----------------------------------------------------------------------------------

def _ticket_dict(ticket: Ticket, user: Principal, *, events: bool = False) -> dict[str, Any]:
    data = ticket_summary(ticket)
    data["department_name"] = ticket.department.name if ticket.department else None
    data["grid"] = ticket.grid.code if ticket.grid else None
    if user.role in DESK and ticket.citizen is not None:
        data["caller_phone"] = ticket.citizen.phone
    if events:
        data["events"] = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                           "from_status": e.from_status, "to_status": e.to_status,
                           "text": e.text} for e in ticket.events]
        # Roles that see masked numbers read them masked in what the citizen said, too.
        data["transcripts"] = _transcripts(ticket, redact=user.role not in DESK)
    return data


def _transcripts(ticket: Ticket, *, redact: bool) -> list[dict[str, Any]]:
    """The finished transcripts of the ticket's calls, utterance by utterance; with ``redact``
    every phone-number-like digit run masked."""
    shown = phone.redact_numbers if redact else str
    out = []
    for call in ticket.calls:
        for t in call.transcripts:
            if t.status != "done":
                continue
            out.append({"call": call.uniqueid, "model": t.model, "language": t.language,
                        "segments": [{"speaker": seg.speaker, "start_s": seg.start_s,
                                      "end_s": seg.end_s, "text": shown(seg.text)}
                                     for seg in t.segments]})
    return out


def _visible(ticket: Ticket, user: Principal) -> bool:
    return user.role != Role.LIAISON or (
        user.department_id is not None and ticket.department_id == user.department_id)


def load_ticket(session: Session, console: Any, user: Principal, ticket_id: int, *,
                events: bool = False) -> dict[str, Any]:
    """One ticket as ``user`` may see it; NoSuchTicket also for another department's."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not _visible(ticket, user):
        raise NoSuchTicket(ticket_id)
    return _ticket_dict(ticket, user, events=events)


def list_tickets(session: Session, user: Principal, *, status: str | None = None,
                 limit: int = 50, offset: int = 0, open_only: bool = False
                 ) -> list[dict[str, Any]]:
    """Tickets newest first; a liaison gets their department's only."""
    query = select(Ticket).options(joinedload(Ticket.citizen), joinedload(Ticket.department),
                                   joinedload(Ticket.grid))
    if user.role == Role.LIAISON:
        query = query.where(Ticket.department_id == (user.department_id or -1))
    if status:
        query = query.where(Ticket.status == status)
    elif open_only:
        query = query.where(Ticket.status.in_(sorted(str(s) for s in OPEN_STATUSES)))
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    return [_ticket_dict(t, user) for t in session.scalars(query).unique()]


async def _me(ctx: Ctx) -> Response:
    u = ctx.user
    assert u is not None
    return json_response({"username": u.username, "display_name": u.display_name,
                          "role": u.role, "agent_code": u.agent_code,
                          "department": u.department_code, "csrf_token": ctx.csrf()})


async def _tickets(ctx: Ctx) -> Response:
    status = ctx.query("status") or None
    if status is not None and status not in _STATUSES:
        raise HTTPError(400, "invalid-parameter",
                        f"status must be one of {', '.join(sorted(_STATUSES))}",
                        {"parameter": "status"})
    limit = int_param(ctx, "limit", 50, 1, 200)
    offset = int_param(ctx, "offset", 0, 0, 1_000_000)
    if ctx.user.role == Role.AGENT and offset + limit > AGENT_PAGE_DEPTH:
        raise await _refused(ctx, "tickets.page", f"offset={offset}", HTTPError(
            400, "invalid-parameter", f"坐席只能翻阅最新的 {AGENT_PAGE_DEPTH} 张工单，请按来电号码查找 "
            f"(agents page through the newest {AGENT_PAGE_DEPTH} tickets; find older ones by "
            "the caller's number)", {"parameter": "offset", "max": AGENT_PAGE_DEPTH}))
    rows = await ctx.console.db.run(list_tickets, ctx.user, status=status, limit=limit,
                                    offset=offset)
    return json_response({"tickets": rows, "limit": limit, "offset": offset})


async def _ticket(ctx: Ctx) -> Response:
    return json_response(await ctx.console.db.run(
        load_ticket, ctx.console, ctx.user, ctx.params["ticket_id"], events=True))


_DESK_FIELDS = ("kind", "category", "grid", "address", "description", "promised_reply_at",
                "phone", "citizen_name", "call_uniqueid", "department", "channel")


def desk_intake_payload(body: Any, zone: dt.tzinfo) -> dict[str, Any]:
    """The intake payload from the desk's form: channel hotline unless given; a promised reply
    time without a zone is the site's local time (what the agent typed); blank fields dropped.
    Raises HTTPError 400 for a body that is not an object or a promise in the past."""
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid-body", "the body must be a JSON object")
    payload = {k: v for k, v in body.items() if v not in (None, "")}
    payload.setdefault("channel", "hotline")
    promised = payload.get("promised_reply_at")
    if isinstance(promised, str):
        try:
            when = dt.datetime.fromisoformat(promised)
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=zone)
            if when <= utcnow():
                raise HTTPError(400, "invalid-intake", "承诺回复时间必须晚于现在 "
                                "(promised_reply_at is in the past)",
                                {"fields": {"promised_reply_at": "is in the past"}})
            payload["promised_reply_at"] = when.isoformat()
    return payload


async def _create_ticket(ctx: Ctx) -> Response:
    console, user = ctx.console, ctx.user
    assert user is not None
    request = load_intake(desk_intake_payload(ctx.json_body(), console.zone))
    draft_key = ctx.query("draft")
    # Calls ringing or talking at the agent's seat now (the ticket is filed during the call).
    seat_calls = ({c["uniqueid"] for c in console.calls.live_calls()
                   if (c.get("agent") or {}).get("interface") == interface_of(user.agent_code)}
                  if console.calls is not None and user.agent_code else set())

    def file(session: Session) -> dict[str, Any]:
        wanted = request
        if request.call_uniqueid:
            refusal = _call_link_refusal(session, user, request.call_uniqueid, seat_calls)
            if refusal is not None:
                raise refusal
            if _linked_elsewhere(session, request.call_uniqueid):
                # A second matter raised in the same call: a ticket of its own; the call
                # stays with the ticket it was first filed under.
                wanted = dataclasses.replace(request, call_uniqueid=None)
        ticket = console.tickets.intake(session, wanted, actor=user.username)
        if draft_key:
            try:
                accounts.delete_draft(session, user.user_id, draft_key)
            except AccountError:
                pass
        audit.record(session, actor=user.username, role=user.role, action="ticket.create",
                     target=ticket.number, ip=ctx.ip,
                     details={"channel": ticket.channel, "call": request.call_uniqueid})
        session.flush()
        return _ticket_dict(ticket, user)

    try:
        return json_response(await console.db.run(file), 201)
    except HTTPError as e:
        if e.error_id == "not-your-call":
            raise await _refused(ctx, "ticket.create", request.call_uniqueid, e) from None
        raise


def _call_link_refusal(session: Session, user: Principal, uniqueid: str,
                       seat_calls: set[str]) -> HTTPError | None:
    """Why a new ticket may not name call ``uniqueid``, or None: an agent names only a call of
    their own seat (live at it now, or taken there)."""
    call = session.scalars(select(Call).where(Call.uniqueid == uniqueid)).one_or_none()
    if user.role != Role.AGENT:
        return None
    taken_here = call is not None and call.agent is not None and \
        call.agent.code == user.agent_code
    if uniqueid in seat_calls or taken_here:
        return None
    return HTTPError(403, "not-your-call", "只能关联自己接听的通话 (you can link only a call "
                     "your seat took)", {"call": uniqueid})


def _linked_elsewhere(session: Session, uniqueid: str) -> bool:
    """Whether call ``uniqueid`` already belongs to a ticket (it is never moved to another)."""
    return session.scalar(select(Call.ticket_id).where(Call.uniqueid == uniqueid)) is not None


def reply_to_ticket(session: Session, console: Any, user: Principal, ticket_id: int,
                    text: str, ip: str) -> dict[str, Any]:
    """Record a department's answer (taking the ticket up first when it was only dispatched)."""
    text = (text or "").strip()
    if not text:
        raise TicketError("回复内容不能为空 (a reply needs its text)", {"field": "text"})
    if len(text) > 5000:
        raise TicketError("回复最多 5000 字 (at most 5000 characters)", {"field": "text"})
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not _visible(ticket, user):
        raise NoSuchTicket(ticket_id)
    if ticket.status == TicketStatus.DISPATCHED:
        console.tickets.start_handling(session, ticket_id, actor=user.username)
    console.tickets.reply(session, ticket_id, actor=user.username, text=text)
    audit.record(session, actor=user.username, role=user.role, action="ticket.reply",
                 target=ticket.number, ip=ip)
    session.flush()
    return _ticket_dict(ticket, user)


async def _reply(ctx: Ctx) -> Response:
    body = ctx.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise HTTPError(400, "invalid-body", 'send {"text": "..."}')
    return json_response(await ctx.console.db.run(
        reply_to_ticket, ctx.console, ctx.user, ctx.params["ticket_id"], body["text"], ctx.ip))


# -- calls and callers ---------------------------------------------------------------------------

async def _calls(ctx: Ctx) -> Response:
    calls = _need(ctx.console.calls, "the live call view")
    return json_response({"calls": calls.live_calls(), "wallboard": calls.wallboard()})


def caller_view(session: Session, number: str, *, contacts: int = 5) -> dict[str, Any]:
    """Who is calling: repeat flag, open tickets, history and the last finished calls from
    the number (the one ringing now is not a past contact)."""
    info = lookup_caller(session, number)
    last: list[dict[str, Any]] = []
    if info.citizen_id is not None:
        rows = session.execute(
            select(Call.started_at, Call.status, Call.talk_s, Agent.code, Ticket.number)
            .outerjoin(Agent, Call.agent_id == Agent.id)
            .outerjoin(Ticket, Call.ticket_id == Ticket.id)
            .where(Call.citizen_id == info.citizen_id, Call.ended_at.is_not(None))
            .order_by(Call.started_at.desc()).limit(contacts + 1)).all()
        last = [{"at": r[0].isoformat(), "status": r[1], "talk_s": r[2], "agent": r[3],
                 "ticket": r[4]} for r in rows]

    def summary(t: Any) -> dict[str, Any]:
        return {"id": t.id, "number": t.number, "kind": t.kind, "status": t.status,
                "category": t.category, "created_at": t.created_at.isoformat(),
                "promised_reply_at": t.promised_reply_at.isoformat()
                if t.promised_reply_at else None}

    return {"phone": info.phone, "masked_phone": info.masked_phone, "known": info.known,
            "citizen_name": info.citizen_name, "repeat_caller": info.repeat_caller,
            "open_tickets": [summary(t) for t in info.open_tickets],
            "history": [summary(t) for t in info.history], "last_contacts": last}


async def _caller(ctx: Ctx) -> Response:
    number = ctx.params["number"]
    try:
        phone.normalise(number)
    except phone.InvalidPhoneNumber as e:
        raise HTTPError(400, "invalid-phone", str(e), {"parameter": "number"}) from None
    return json_response(await ctx.console.db.run(caller_view, number))


# -- directory -----------------------------------------------------------------------------------

async def _directory(ctx: Ctx) -> Response:
    q = (ctx.query("q") or "")[:100]
    category = ctx.query("category") or None
    open_now = (ctx.query("open_now") or "").lower() in ("1", "true", "yes")
    limit = int_param(ctx, "limit", 20, 1, 100)
    hits = ctx.console.directory.search(q, category=category, open_now=open_now, limit=limit)
    now = utcnow()
    local = now.astimezone(ctx.console.zone)
    minute = local.hour * 60 + local.minute
    return json_response({"query": q, "bridge": ctx.console.bridge is not None,
                          "entries": [{**e.as_dict(), "pinyin_initials": e.pinyin_initials,
                                       "open_now": e.hours.is_open_local(local.weekday(),
                                                                         minute)}
                                      for e in hits]})


# -- agents --------------------------------------------------------------------------------------

def _status_dict(s: Any) -> dict[str, Any]:
    return {"code": s.code, "name": s.name, "state": s.state,
            "since": s.since.isoformat() if s.since else None, "reason": s.reason}


async def _agents(ctx: Ctx) -> Response:
    agents = _need(ctx.console.agents, "the agent service")
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
    agents = _need(ctx.console.agents, "the agent service")
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


# -- three-way bridge (三方通话) ------------------------------------------------------------------
#
# Only ever on the signed-in agent's own current call (hotline.web.rooms.current_call): the body
# may name the call the page shows, and a call that is not theirs is refused, never bridged.

#: ``POST /api/bridge/{action}`` → the bridge service's method.
BRIDGE_ACTIONS = {"leave": "leave", "drop-department": "drop_department",
                  "fallback": "try_fallback"}
_DIGITS = frozenset("0123456789")


def _bridge_parts(ctx: Ctx) -> tuple[Any, Any, Principal, str]:
    """The bridge service, the live call view, the user and their seat; 503/409 without."""
    user = ctx.user
    assert user is not None
    bridge = _need(ctx.console.bridge, "the three-way bridge (三方通话)")
    calls = _need(ctx.console.calls, "the live call view")
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


async def _refused(ctx: Ctx, action: str, target: str | None, err: HTTPError) -> HTTPError:
    """Audit a refused action with its reason; returns the error for the caller to raise."""
    await ctx.console.audit(ctx, action, target=target, outcome="failed",
                            details={"error_id": err.error_id, "why": err.message})
    return err


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
        raise await _refused(ctx, "bridge.start", asked, HTTPError(
            403, "not-your-call", "只能对自己当前的通话发起三方通话 (that call is not your "
            "current call)", {"call": asked}))
    if call is None:
        raise await _refused(ctx, "bridge.start", None, HTTPError(
            409, "no-current-call", "您当前没有通话，无法发起三方通话 (no call is ringing or "
            "talking at your seat)"))
    try:
        attempt = await bridge.bridge(call["uniqueid"], entry, number=number)
    except BridgeError as e:
        raise await _refused(ctx, "bridge.start", target, HTTPError(
            e.status, e.error_id, str(e), e.details)) from None
    except Exception as e:  # the PBX link: say so rather than a bare 500
        raise await _refused(ctx, "bridge.start", target, HTTPError(
            503, "pbx-unavailable", f"the PBX did not do it: {e}")) from None
    room = attempt.room
    await ctx.console.audit(ctx, "bridge.start", target=target, details={
        "entry": entry, "name": room.entry_name, "number": attempt.leg.number,
        "room": room.name})
    ctx.console.events.bridge_changed(room)
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
        raise await _refused(ctx, audit_action, call["uniqueid"] if call else None,
                                    HTTPError(409, "no-bridge-room",
                                              "您当前的通话不在三方通话中 (your current call is "
                                              "in no bridge room)"))
    try:
        await getattr(bridge, method)(room.call_id)
    except BridgeError as e:
        raise await _refused(ctx, audit_action, room.call_uniqueid, HTTPError(
            e.status, e.error_id, str(e), e.details)) from None
    except Exception as e:
        raise await _refused(ctx, audit_action, room.call_uniqueid, HTTPError(
            503, "pbx-unavailable", f"the PBX did not do it: {e}")) from None
    await ctx.console.audit(ctx, audit_action, target=room.call_uniqueid,
                            details={"room": room.name})
    ctx.console.events.bridge_changed(room)
    return json_response(room_view(room))


# -- callbacks -----------------------------------------------------------------------------------

def due_callbacks(session: Session, user: Principal, *, limit: int = 50) -> list[dict[str, Any]]:
    """Pending callbacks this agent owns or anyone may take, soonest first."""
    query = (select(Callback, Ticket, Citizen)
             .join(Ticket, Callback.ticket_id == Ticket.id)
             .outerjoin(Citizen, Callback.citizen_id == Citizen.id)
             .where(Callback.status.in_(("pending", "in_progress")))
             .order_by(Callback.due_at).limit(limit))
    if user.role == Role.AGENT:
        agent_id = session.scalar(select(Agent.id).where(Agent.code == (user.agent_code or "")))
        query = query.where(or_(Callback.owner_agent_id.is_(None),
                                Callback.owner_agent_id == agent_id))
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
    from scheduler.store import DialRefused

    user = ctx.user
    assert user is not None
    callback_id = ctx.params["callback_id"]
    target = str(callback_id)
    if not user.agent_code:
        raise await _refused(ctx, "callback.dial", target, HTTPError(
            409, "no-seat", "this account has no agent seat (坐席号); ask an admin"))
    calls = ctx.console.calls
    if calls is not None and current_call(calls, ctx.console.bridge, user.agent_code):
        raise await _refused(ctx, "callback.dial", target, HTTPError(
            409, "on-a-call", "您正在通话中，挂机后再回拨 (your seat is on a call: the callback "
            "would ring your phone during it)", {"callback": callback_id}))
    scheduler = ctx.console.scheduler
    try:
        if scheduler is None:
            raise DialRefused("not-running", "回拨调度未接入此控制台 (no callback scheduler on "
                                             "this console)")
        started = await scheduler.dial_now(callback_id, user.agent_code)
    except DialRefused as e:
        raise await _refused(ctx, "callback.dial", target, HTTPError(
            _DIAL_STATUS.get(e.reason, 409), e.reason, str(e),
            {"callback": callback_id})) from None
    except Exception as e:  # the database or the PBX link: say so rather than a bare 500
        raise await _refused(ctx, "callback.dial", target, HTTPError(
            503, "not-available", f"the callback was not dialled: {e}")) from None
    await ctx.console.audit(ctx, "callback.dial", target=target, details={
        "attempt": started.key, "ticket": started.ticket_number, "seat": user.agent_code})
    ctx.console.events.callback_dialling(started)
    return json_response({"id": callback_id, "attempt": started.key,
                          "ticket": started.ticket_number, "ticket_id": started.ticket_id,
                          "state": "dialling"}, 202)


# -- drafts --------------------------------------------------------------------------------------

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


def departments(session: Session) -> list[tuple[str, str]]:
    return [(d.code, d.name) for d in session.scalars(select(Department).order_by(Department.code))]
