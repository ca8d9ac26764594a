# -*- test-case-name: tests.web.test_api -*-
"""The tickets' HTTP routes: list, read, file (desk intake), who is calling, and a ticket's page
(with the steps the user may take now). The steps themselves, the reply included, are in
L{hotline.tickets.life_api}. Registered by L{hotline.tickets.plugin}; the console serves them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from db.models import Agent, Call, Citizen, Ticket, TicketReporter, utcnow
from hotline import phone
from hotline.naming import agent_interface
from hotline.tickets import status
from hotline.tickets.duplicates import DuplicateQuery, duplicate_settings, load_query
from hotline.tickets.exceptions import TicketError
from hotline.tickets.schemas import (
    OPEN_STATUSES,
    BadPromise,
    TicketStatus,
    load_intake,
    promised_reply_time,
    ticket_summary,
)
from hotline.tickets.service import lookup_caller
from hotline.web import accounts, audit
from hotline.web.accounts import AccountError, Principal
from hotline.web.api import int_param, refused
from hotline.web.roles import DESK, TICKET_READERS, Role
from hotline.web.routing import Ctx, HTTPError, Response, Router, html_response, json_response

__all__ = ["register", "load_ticket", "caller_view", "list_tickets", "desk_intake_payload",
           "attach_call", "ticket_duplicates", "reporter_rows", "AGENT_PAGE_DEPTH",
           "check_page_depth"]

_STATUSES = {s.value for s in TicketStatus}
#: How deep an agent may page through tickets (and the citizens' numbers on them): the newest
#: this many. An older ticket is found by the caller's number (/api/callers/{number}).
AGENT_PAGE_DEPTH = 200


def register(router: Router) -> None:
    """Mount the ticket and caller routes."""
    router.add("GET", "/api/tickets", _tickets, roles=TICKET_READERS)
    router.add("POST", "/api/tickets", _create_ticket, roles=DESK)
    router.add("GET", "/api/tickets/{ticket_id:int}", _ticket, roles=TICKET_READERS)
    router.add("GET", "/api/callers/{number:str}", _caller, roles=DESK)
    router.add("GET", "/tickets/{ticket_id:int}", _ticket_page, roles=TICKET_READERS, page=True)
    # Possible duplicates at intake and co-reporters (一事多诉), hotline.tickets.duplicates.
    router.add("POST", "/api/tickets/duplicates", _duplicates, roles=DESK)
    router.add("GET", "/api/tickets/{ticket_id:int}/duplicates", _ticket_duplicates,
               roles=DESK)
    router.add("POST", "/api/tickets/{ticket_id:int}/reporters", _add_reporter, roles=DESK)
    # The citizen's own status line on the web, without signing in (hotline.tickets.status).
    router.add("GET", "/status", _status_page, roles=None, page=True)
    router.add("GET", "/api/public/status", _status, roles=None)


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


def load_ticket(session: Session, console: Any, user: Principal, ticket_id: int, *,
                events: bool = False) -> dict[str, Any]:
    """One ticket as ``user`` may see it; NoSuchTicket also for another department's (a
    co-handling department sees it). With its events comes its life after intake: light,
    attachments, extensions, notices, the steps the user may take (hotline.tickets.actions)."""
    actions = console.ticket_life.actions
    ticket = actions.readable(session, user, ticket_id)
    data = _ticket_dict(ticket, user, events=events)
    if events:
        data.update(actions.extras(session, ticket, user))
    return data


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


async def check_page_depth(ctx: Ctx, action: str, offset: int, limit: int) -> None:
    """Agents page through the newest AGENT_PAGE_DEPTH rows of any ticket list only (a desk
    finds older tickets by the caller's number); refused and audited beyond it."""
    if ctx.user is not None and ctx.user.role == Role.AGENT and offset + limit > AGENT_PAGE_DEPTH:
        raise await refused(ctx, action, f"offset={offset}", HTTPError(
            400, "invalid-parameter", f"坐席只能翻阅最新的 {AGENT_PAGE_DEPTH} 张工单，请按来电号码查找 "
            f"(agents page through the newest {AGENT_PAGE_DEPTH} tickets; find older ones by "
            "the caller's number)", {"parameter": "offset", "max": AGENT_PAGE_DEPTH}))


async def _tickets(ctx: Ctx) -> Response:
    status = ctx.query("status") or None
    if status is not None and status not in _STATUSES:
        raise HTTPError(400, "invalid-parameter",
                        f"status must be one of {', '.join(sorted(_STATUSES))}",
                        {"parameter": "status"})
    limit = int_param(ctx, "limit", 50, 1, 200)
    offset = int_param(ctx, "offset", 0, 0, 1_000_000)
    await check_page_depth(ctx, "tickets.page", offset, limit)
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
            when = promised_reply_time(promised, now=utcnow(), zone=zone)
        except BadPromise as e:
            raise HTTPError(400, "invalid-intake", f"承诺回复时间有误 ({e})",
                            {"fields": {"promised_reply_at": str(e)}}) from None
        payload["promised_reply_at"] = when.isoformat()
    return payload


async def _create_ticket(ctx: Ctx) -> Response:
    console, user = ctx.console, ctx.user
    assert user is not None
    request = load_intake(desk_intake_payload(ctx.json_body(), console.zone))
    draft_key = ctx.query("draft")
    # Calls ringing or talking at the agent's seat now (the ticket is filed during the call).
    seat_calls = ({c["uniqueid"] for c in console.calls.live_calls()
                   if (c.get("agent") or {}).get("interface") == agent_interface(user.agent_code)}
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
        ticket = console.tickets.intake(session, wanted, actor=user.username,
                                        promised_by=user.agent_code)
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
        filed = await console.db.run(file)
    except HTTPError as e:
        if e.error_id == "not-your-call":
            raise await refused(ctx, "ticket.create", request.call_uniqueid, e) from None
        raise
    console.ticket_life.stream.ticket_changed(filed)  # the dispatcher's queue shows it now
    return json_response(filed, 201)


def _call_link_refusal(session: Session, user: Principal, uniqueid: str,
                       seat_calls: set[str]) -> HTTPError | None:
    """Why a new ticket may not name call ``uniqueid``, or None: an agent names only a call of
    their own seat (live at it now, or taken there)."""
    if user.role != Role.AGENT:
        return None
    call = session.scalars(select(Call).where(Call.uniqueid == uniqueid)).one_or_none()
    taken_here = call is not None and call.agent is not None and \
        call.agent.code == user.agent_code
    if uniqueid in seat_calls or taken_here:
        return None
    return HTTPError(403, "not-your-call", "只能关联自己接听的通话 (you can link only a call "
                     "your seat took)", {"call": uniqueid})


def _linked_elsewhere(session: Session, uniqueid: str) -> bool:
    """Whether call ``uniqueid`` already belongs to a ticket (it is never moved to another)."""
    return session.scalar(select(Call.ticket_id).where(Call.uniqueid == uniqueid)) is not None


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




def ticket_duplicates(session: Session, service: Any, ticket_id: int,
                      settings: dict[str, Any]) -> dict[str, Any]:
    """The possible duplicates of a filed ticket (its page shows them): as at its intake."""
    ticket = service.get(session, ticket_id)
    query = DuplicateQuery(category=ticket.category,
                           grid=ticket.grid.code if ticket.grid else None,
                           address=ticket.address, description=ticket.description,
                           phone=ticket.citizen.phone if ticket.citizen else None,
                           exclude_ticket_id=ticket.id)
    return service.duplicates(session, query, **settings).to_dict()


def reporter_rows(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """The co-reporters of a ticket as its page shows them (numbers masked)."""
    rows = session.execute(
        select(Citizen.phone, TicketReporter.added_at, TicketReporter.added_by,
               TicketReporter.description)
        .join(Citizen, Citizen.id == TicketReporter.citizen_id)
        .where(TicketReporter.ticket_id == ticket_id).order_by(TicketReporter.id)).all()
    return [{"masked_phone": phone.mask(r[0]), "added_at": r[1].isoformat(),
             "added_by": r[2], "description": r[3]} for r in rows]


async def _duplicates(ctx: Ctx) -> Response:
    console = ctx.console
    query = load_query(ctx.json_body())
    found = await console.db.run(console.tickets.duplicates, query,
                                 **duplicate_settings(console.config))
    return json_response(found.to_dict())


async def _ticket_duplicates(ctx: Ctx) -> Response:
    console = ctx.console
    return json_response(await console.db.run(
        ticket_duplicates, console.tickets, ctx.params["ticket_id"],
        duplicate_settings(console.config)))


def attach_call(session: Session, service: Any, user: Principal, ticket_id: int, body: Any,
                *, ip: str | None) -> dict[str, Any]:
    """Attach a caller to an existing open ticket (一事多诉) as ``user``, audited; the ticket
    as the desk sees it afterwards, with its co-reporters and ``added`` (false when the caller
    was already one). The console and ``hotline ticket attach`` share it."""
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid-body", "the body must be a JSON object")
    for name in ("phone", "citizen_name", "call_uniqueid", "text"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise HTTPError(400, "invalid-request", f"{name} must be text",
                            {"fields": {name: "must be text"}})
    added = service.add_reporter(
        session, ticket_id, phone_number=body.get("phone") or "", actor=user.username,
        citizen_name=body.get("citizen_name") or None,
        call_uniqueid=body.get("call_uniqueid") or None, text=body.get("text"))
    ticket = service.get(session, ticket_id)
    audit.record(session, actor=user.username, role=user.role, action="ticket.co_report",
                 target=ticket.number, ip=ip,
                 details={"call": body.get("call_uniqueid"), "added": added is not None})
    session.flush()
    view = _ticket_dict(ticket, user)
    view["reporters"] = reporter_rows(session, ticket.id)
    view["added"] = added is not None
    return view


async def _add_reporter(ctx: Ctx) -> Response:
    """Attach the call to an existing ticket (一事多诉) instead of opening a new one."""
    console = ctx.console
    view = await console.db.run(attach_call, console.tickets, ctx.user,
                                ctx.params["ticket_id"], ctx.json_body(), ip=ctx.ip)
    console.ticket_life.stream.ticket_changed(view)
    return json_response(view)


async def _status_lookup(ctx: Ctx, number: str, last4: str) -> dict[str, Any] | None:
    """The public view, counted against the ticket's allowance of misses (shared with the
    phone's status line, hotline.tickets.status.StatusLine) and the client address's
    allowance of lookups; 429 once either is spent."""
    try:
        return await ctx.console.status_line.lookup(number, last4, client=ctx.ip)
    except status.Throttled as error:
        raise HTTPError(429, "too-many-attempts", "查询过于频繁，请稍后再试 (too many attempts "
                        "for this ticket; try again later)",
                        {"retry_after_s": round(error.retry_after_s, 1)}) from None


async def _status(ctx: Ctx) -> Response:
    number, last4 = status.check_query(ctx.query("number"), ctx.query("last4"))
    found = await _status_lookup(ctx, number, last4)
    if found is None:
        raise HTTPError(404, "not-found", "未找到：工单号或手机号后四位不符 (no such ticket for "
                        "these digits)")
    return json_response(found)


async def _status_page(ctx: Ctx) -> Response:
    """The form, and with a number and digits the answer (or 未找到)."""
    found = None
    error = ""
    asked = ctx.query("number") is not None or ctx.query("last4") is not None
    if asked:
        try:
            number, last4 = status.check_query(ctx.query("number"), ctx.query("last4"))
        except TicketError:
            error = "请输入完整的工单号（如 RX20261126-000123）和手机号后四位。"
        else:
            try:
                found = await _status_lookup(ctx, number, last4)
            except HTTPError:
                error = "查询过于频繁，请稍后再试。"
            else:
                if found is None:
                    error = "未找到：工单号或手机号后四位不符。"
    return html_response(ctx.console.render_page(
        "status.html", ctx, found=found, error=error,
        number=(ctx.query("number") or "")[:24]))


async def _ticket_page(ctx: Ctx) -> Response:
    from hotline.tickets.life_api import department_rows
    from hotline.tickets.permissions import ACTION_LABELS
    from hotline.tickets.schemas import KIND_LABELS, STATUS_LABELS

    console = ctx.console

    def read(session: Session) -> dict[str, Any]:
        ticket = load_ticket(session, console, ctx.user, ctx.params["ticket_id"], events=True)
        values: dict[str, Any] = {"ticket": ticket}
        for extras in console.ticket_page_extras:  # what other packages add (the grid's photos)
            values.update(extras(session, ticket["id"]))
        # The forms of the steps the user may take now (templates/ticket_actions.html).
        values["departments"] = department_rows(session) if "dispatch" in ticket["actions"] \
            else []
        values["reporters"] = reporter_rows(session, ticket["id"])
        values["duplicates"] = ticket_duplicates(
            session, console.tickets, ticket["id"], duplicate_settings(console.config)) \
            if ctx.user.role in DESK else None
        return values

    return html_response(console.render_page(
        "ticket.html", ctx, action_labels=ACTION_LABELS, kinds=KIND_LABELS,
        statuses=STATUS_LABELS, done=(ctx.query("done") or "")[:40],
        error=(ctx.query("error") or "")[:400], **await console.db.run(read)))
