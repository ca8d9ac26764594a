# -*- test-case-name: tests.web.test_api -*-
"""Open311 GeoReport v2 for the other intake channels (web forms, WeChat bridges, grid workers'
apps): ``/open311/v2/services``, ``/open311/v2/requests`` (POST files a ticket, GET reads the
channel's own tickets) and ``/open311/v2/requests/{id}``. JSON only (``.json`` or no suffix).

Every request call needs a key (``hotline user apikey-add``) in the ``X-API-Key`` header (or, as
GeoReport has it, ``api_key`` in the query or form, which the access log never writes down); a
key files under its own
channel and reads that channel's tickets only, never phone numbers. Errors are GeoReport's list
``[{"code": 400, "description": "..."}]`` with the HTTP status in ``code``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from db.models import Ticket, TicketEvent
from hotline.tickets.duplicates import DuplicateQuery, duplicate_settings
from hotline.tickets.exceptions import InvalidIntake, TicketError
from hotline.tickets.schemas import TicketKind, load_intake
from hotline.web import accounts, audit
from hotline.web.routing import Ctx, HTTPError, Response, Router, json_response

__all__ = ["register", "SERVICES"]

#: GeoReport services: the five kinds of request the hotline counts.
SERVICES: dict[str, tuple[str, str]] = {
    TicketKind.COMPLAINT: ("投诉", "对问题、违法违规行为或服务的投诉"),
    TicketKind.HELP: ("求助", "需要政府部门或公共服务单位帮助解决的困难"),
    TicketKind.CONSULTATION: ("咨询", "政策、办事流程等咨询"),
    TicketKind.SUGGESTION: ("建议", "对城市管理与公共服务的意见建议"),
    TicketKind.PRAISE: ("表扬", "对部门或工作人员的表扬"),
}
_CLOSED = {"closed", "merged"}
_POST_FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
                "address_id", "email", "device_id", "account_id", "first_name", "last_name",
                "phone", "description", "media_url"}
_ATTRIBUTES = {"category", "grid"}
#: load_intake's field names as an Open311 client knows them.
_FIELD_NAMES = {"kind": "service_code", "citizen_name": "first_name", "address": "address_string",
                "category": "attribute[category]", "grid": "attribute[grid]"}


def register(router: Router) -> None:
    for suffix in ("", ".json"):
        router.add("GET", f"/open311/v2/services{suffix}", _guard(_services), roles=None)
        router.add("GET", f"/open311/v2/requests{suffix}", _guard(_list), roles=None)
        router.add("POST", f"/open311/v2/requests{suffix}", _guard(_create), roles=None)
    router.add("GET", "/open311/v2/requests/{request_id:str}", _guard(_one), roles=None)


def _error(status: int, description: str) -> Response:
    return json_response([{"code": status, "description": description}], status)


def _guard(handler: Callable[[Ctx], Awaitable[Response]]) -> Callable[[Ctx], Awaitable[Response]]:
    """Render every refusal in GeoReport's error shape."""
    async def guarded(ctx: Ctx) -> Response:
        try:
            return await handler(ctx)
        except HTTPError as e:
            return _error(e.status_code, e.message)
        except InvalidIntake as e:
            listed = "; ".join(f"{_FIELD_NAMES.get(f, f)} {why}" for f, why in e.problems.items())
            return _error(400, f"invalid request: {listed}")
        except TicketError as e:
            return _error(e.status_code, e.message)
    return guarded


async def _key(ctx: Ctx) -> Any:
    # The X-API-Key header is the way; the query string (GeoReport's) still works, and the
    # access log never writes a query string down.
    header = ctx.request.getHeader(b"x-api-key")
    raw = header.decode("ascii", "replace").strip() if header else ctx.query("api_key")
    if not raw:
        raise HTTPError(401, "no-api-key", "api_key is required (ask the hotline for a key)")
    key = await ctx.console.db.run(accounts.resolve_api_key, raw)
    if key is None:
        await ctx.console.audit(ctx, "open311.key", actor=f"key:{raw[:10]}", outcome="denied")
        raise HTTPError(403, "bad-api-key", "api_key is not valid or has been revoked")
    return key


async def _services(ctx: Ctx) -> Response:
    return json_response([
        {"service_code": str(code), "service_name": name, "description": text,
         "metadata": False, "type": "realtime", "keywords": "", "group": "市民诉求"}
        for code, (name, text) in SERVICES.items()])


def _float(ctx: Ctx, name: str, lo: float, hi: float) -> float | None:
    raw = ctx.query(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise HTTPError(400, "invalid", f"{name} must be a decimal number") from None
    if not lo <= value <= hi:
        raise HTTPError(400, "invalid", f"{name} must be between {lo} and {hi}")
    return value


async def _create(ctx: Ctx) -> Response:
    unknown = sorted(name for name in (a.decode("utf-8", "replace") for a in ctx.request.args)
                     if name not in _POST_FIELDS and not (
                         name.startswith("attribute[") and name[10:-1] in _ATTRIBUTES
                         and name.endswith("]")))
    if unknown:
        raise HTTPError(400, "unknown-field", f"unknown field(s): {', '.join(unknown)} "
                        "(attributes: attribute[category], attribute[grid])")
    key = await _key(ctx)
    code = ctx.form("service_code")
    if not code:
        raise HTTPError(400, "invalid", "service_code is required (see /open311/v2/services)")
    if code not in SERVICES:
        raise HTTPError(404, "no-service", f"service_code {code!r} is not a service "
                        f"(one of {', '.join(SERVICES)})")
    lat, lon = _float(ctx, "lat", -90, 90), _float(ctx, "long", -180, 180)
    address = (ctx.form("address_string") or "").strip()
    if (lat is None) != (lon is None):
        raise HTTPError(400, "invalid", "lat and long go together")
    if not address and lat is None:
        raise HTTPError(400, "invalid", "a location is required: address_string, or lat and long")
    if not address:
        address = f"{lat:.6f},{lon:.6f}"
    parts = [p.strip() for p in (ctx.form("last_name"), ctx.form("first_name")) if p and p.strip()]
    # 张 + 敏 is 张敏; Latin names keep their space.
    name = ("" if all(not p.isascii() for p in parts) else " ").join(parts) or None
    payload = {"channel": key.channel, "kind": code,
               "description": ctx.form("description"), "phone": ctx.form("phone"),
               "citizen_name": name, "address": address,
               "category": ctx.form("attribute[category]"), "grid": ctx.form("attribute[grid]"),
               "latitude": lat, "longitude": lon}
    request = load_intake({k: v for k, v in payload.items() if v not in (None, "")})
    console = ctx.console

    def file(session: Session) -> tuple[str, list[str]]:
        ticket = console.tickets.intake(session, request, actor=f"open311:{key.name}")
        audit.record(session, actor=f"key:{key.name}", action="open311.create",
                     target=ticket.number, ip=ctx.ip, details={"channel": key.channel})
        # The same duplicate check as the desk's (issue 18), without the caller's own tickets:
        # the numbers of open requests that may be the same problem, nothing personal.
        found = console.tickets.duplicates(session, DuplicateQuery(
            category=ticket.category, grid=ticket.grid.code if ticket.grid else None,
            address=ticket.address, description=ticket.description,
            exclude_ticket_id=ticket.id), **duplicate_settings(console.config))
        return ticket.number, [c.number for c in found.candidates if c.score > 0]

    number, duplicates = await console.db.run(file)
    return json_response([{"service_request_id": number, "account_id": None,
                           "service_notice": f"已受理，工单号 {number}",
                           "possible_duplicates": duplicates}], 201)


def _as_request(ticket: Ticket, reply: str | None) -> dict[str, Any]:
    name = SERVICES.get(ticket.kind, (ticket.kind, ""))[0]
    return {"service_request_id": ticket.number,
            "status": "closed" if ticket.status in _CLOSED else "open",
            "status_notes": reply, "service_name": name, "service_code": ticket.kind,
            "description": ticket.description,
            "agency_responsible": ticket.department.name if ticket.department else None,
            "service_notice": None, "requested_datetime": ticket.created_at.isoformat(),
            "updated_datetime": ticket.updated_at.isoformat(),
            "expected_datetime": ticket.promised_reply_at.isoformat()
            if ticket.promised_reply_at else None,
            "address": ticket.address, "address_id": None, "zipcode": None,
            "lat": ticket.latitude, "long": ticket.longitude, "media_url": None}


def _time(ctx: Ctx, name: str) -> dt.datetime | None:
    raw = ctx.query(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise HTTPError(400, "invalid", f"{name} must be an ISO 8601 time "
                        "(e.g. 2026-11-26T08:00:00+08:00)") from None
    if value.tzinfo is None:
        raise HTTPError(400, "invalid", f"{name} needs a time zone (e.g. +08:00)")
    return value


def _query(session: Session, channel: str, numbers: list[str] | None, code: str | None,
           status: str | None, start: dt.datetime | None, end: dt.datetime | None
           ) -> list[dict[str, Any]]:
    query = select(Ticket).options(joinedload(Ticket.department)).where(
        Ticket.channel == channel)
    if numbers is not None:
        query = query.where(Ticket.number.in_(numbers))
    else:
        end = end or dt.datetime.now(dt.UTC)
        start = start or end - dt.timedelta(days=90)
        query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
    if code:
        query = query.where(Ticket.kind == code)
    if status == "closed":
        query = query.where(Ticket.status.in_(sorted(_CLOSED)))
    elif status == "open":
        query = query.where(Ticket.status.not_in(sorted(_CLOSED)))
    tickets = list(session.scalars(query.order_by(Ticket.created_at.desc()).limit(1000)))
    replies: dict[int, str] = {}
    if tickets:
        for ticket_id, text in session.execute(
                select(TicketEvent.ticket_id, TicketEvent.text)
                .where(TicketEvent.ticket_id.in_([t.id for t in tickets]),
                       TicketEvent.action == "reply").order_by(TicketEvent.id)):
            replies[ticket_id] = text
    return [_as_request(t, replies.get(t.id)) for t in tickets]


async def _list(ctx: Ctx) -> Response:
    key = await _key(ctx)
    ids = ctx.query("service_request_id")
    numbers = None
    if ids:
        numbers = [n.strip() for n in ids.split(",") if n.strip()][:50]
    code = ctx.query("service_code") or None
    if code is not None and code not in SERVICES:
        raise HTTPError(400, "invalid", f"service_code {code!r} is not a service")
    status = ctx.query("status") or None
    if status not in (None, "open", "closed"):
        raise HTTPError(400, "invalid", "status must be open or closed")
    start, end = _time(ctx, "start_date"), _time(ctx, "end_date")
    if start and end and start > end:
        raise HTTPError(400, "invalid", "start_date is after end_date")
    return json_response(await ctx.console.db.run(_query, key.channel, numbers, code, status,
                                                  start, end))


async def _one(ctx: Ctx) -> Response:
    key = await _key(ctx)
    number = ctx.params["request_id"].removesuffix(".json")
    found = await ctx.console.db.run(_query, key.channel, [number], None, None, None, None)
    if not found:
        raise HTTPError(404, "no-request", f"no service request {number!r} for this key")
    return json_response(found)
