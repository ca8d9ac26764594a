# -*- test-case-name: tests.tickets.test_http -*-
"""The JSON API of a ticket's life after intake (接-派-办-评): the steps, extension decisions,
attachments, the worklists with their lights, the push stream, the working-day calendar and the
departments' duty numbers. Thin resources: each reads the request, runs one ``TicketActions``
unit of work and pushes what changed; refusals are audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Department
from hotline import phone
from hotline.tickets import calendar as site_calendar
from hotline.tickets.actions import FIELDS, UploadedFile
from hotline.tickets.exceptions import InvalidRequest, NoSuchDepartment, TicketError
from hotline.tickets.http import check_page_depth
from hotline.tickets.permissions import ACTION_ROLES
from hotline.tickets.worklists import LISTS
from hotline.web import audit
from hotline.web.auth import token_hash
from hotline.web.roles import SUPERVISION, TICKET_READERS
from hotline.web.routing import STREAMING, Ctx, HTTPError, Response, Router, json_response

if TYPE_CHECKING:
    from hotline.tickets.plugin import TicketLife

__all__ = ["register", "act", "openapi_paths"]


def register(router: Router, plugin: TicketLife) -> None:
    """Add the routes; ``plugin`` holds the actions and the stream."""
    for action in FIELDS:
        router.add("POST", f"/api/tickets/{{ticket_id:int}}/{action.replace('_', '-')}",
                   _step(plugin, action), roles=ACTION_ROLES[action])
    router.add("POST", "/api/extensions/{extension_id:int}/decision", _decide(plugin),
               roles=ACTION_ROLES["decide_extension"])
    router.add("POST", "/api/tickets/{ticket_id:int}/attachments", _upload(plugin),
               roles=ACTION_ROLES["attach"], max_body=plugin.upload_limit)
    router.add("GET", "/api/attachments/{attachment_id:int}", _download(plugin),
               roles=TICKET_READERS)
    router.add("GET", "/api/worklists/{name:str}", _worklist(plugin), roles=TICKET_READERS)
    router.add("GET", "/api/tickets/stream", _stream(plugin), roles=TICKET_READERS)
    router.add("GET", "/api/calendar", _calendar_list, roles=TICKET_READERS)
    router.add("POST", "/api/calendar", _calendar_add(plugin), roles=SUPERVISION)
    router.add("DELETE", "/api/calendar/{day:str}", _calendar_remove(plugin), roles=SUPERVISION)
    router.add("GET", "/api/departments", _departments, roles=TICKET_READERS)
    router.add("PUT", "/api/departments/{code:str}/duty", _duty, roles=SUPERVISION)


async def act(ctx: Ctx, plugin: TicketLife, action: str, ticket_id: int,
              payload: Any, files: tuple[UploadedFile, ...] = ()) -> dict[str, Any]:
    """Run one step for the signed-in user, audit a refusal, push the change. Pages and the
    API share it."""
    user = ctx.user
    assert user is not None
    try:
        view = await ctx.console.db.run(plugin.actions.perform, user, action, ticket_id,
                                        payload, ip=ctx.ip, files=files)
    except TicketError as e:
        await ctx.console.db.run(plugin.actions.audit_refusal, user, action,
                                 str(ticket_id), e, ip=ctx.ip)
        raise
    plugin.stream.ticket_changed(view)
    return view


def _step(plugin: TicketLife, action: str) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await act(ctx, plugin, action, ctx.params["ticket_id"],
                                       ctx.json_body()))
    handle.__name__ = f"ticket_{action}"
    return handle


def _decide(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise HTTPError(400, "invalid-body", 'send {"approve": true|false, "note": "..."}')
        unknown = sorted(set(body) - {"approve", "note", "version"})
        if unknown:
            raise InvalidRequest({unknown[0]: "is not a field of this step"})
        user = ctx.user
        assert user is not None
        try:
            view = await ctx.console.db.run(
                plugin.actions.decide_extension, user, ctx.params["extension_id"],
                approve=body.get("approve"), note=body.get("note"),
                version=body.get("version"), ip=ctx.ip)
        except TicketError as e:
            await ctx.console.db.run(plugin.actions.audit_refusal, user, "extension.decide",
                                     str(ctx.params["extension_id"]), e, ip=ctx.ip)
            raise
        plugin.stream.ticket_changed(view)
        return json_response(view)
    return handle


def _upload(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        request = ctx.request
        name = ctx.query("name") or ""
        if not name.strip():
            raise InvalidRequest({"name": "give the file's name (?name=photo.jpg)"})
        ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
        content = request.content
        if content is None:
            raise InvalidRequest({"file": "is empty"})
        content.seek(0)
        data = content.read()
        user = ctx.user
        assert user is not None
        try:
            stored = await ctx.console.db.run(
                plugin.actions.upload, user, ctx.params["ticket_id"],
                UploadedFile(name, ctype, data), ip=ctx.ip)
        except TicketError as e:
            await ctx.console.db.run(plugin.actions.audit_refusal, user, "attach",
                                     str(ctx.params["ticket_id"]), e, ip=ctx.ip)
            raise
        return json_response(stored, 201)
    return handle


def _download(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        data, filename, ctype = await ctx.console.db.run(
            plugin.actions.download, ctx.user, ctx.params["attachment_id"])
        await ctx.console.audit(ctx, "ticket.attachment.read",
                                target=str(ctx.params["attachment_id"]))
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        return Response(200, data, ctype.encode(),
                        {b"Content-Disposition": disposition.encode("ascii")})
    return handle


def _int(ctx: Ctx, name: str, default: int, lo: int, hi: int) -> int:
    raw = ctx.query(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise HTTPError(400, "invalid-parameter", f"{name} must be an integer from {lo} to {hi}",
                        {"parameter": name})
    return int(raw)


def _worklist(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        name = ctx.params["name"]
        if name not in LISTS:
            raise HTTPError(404, "not-found", f"no worklist {name!r} (one of {', '.join(LISTS)})")
        limit = _int(ctx, "limit", 50, 1, 200)
        offset = _int(ctx, "offset", 0, 0, 100_000)
        await check_page_depth(ctx, f"worklist.{name}.page", offset, limit)
        try:
            data = await ctx.console.db.run(plugin.actions.worklist, ctx.user, name,
                                            department=ctx.query("department") or None,
                                            limit=limit, offset=offset)
        except TicketError as e:
            await ctx.console.audit(ctx, f"worklist.{name}", target=ctx.path,
                                    outcome="denied" if e.status_code == 403 else "failed",
                                    details={"error_id": e.error_id})
            raise
        return json_response(data)
    return handle


def _stream(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> object:
        if plugin.stream.full:
            raise HTTPError(503, "too-many-streams", "too many open event streams")
        user = ctx.user
        assert user is not None
        events = ctx.console.events
        events.admit(user)  # the user's cap counts every kind of stream
        events.adopt(plugin.stream.attach(ctx.request, role=user.role,
                                          department=user.department_code,
                                          username=user.username,
                                          session=token_hash(user.token)))
        return STREAMING
    return handle


# -- the calendar and the duty numbers -------------------------------------------------------------

async def _calendar_list(ctx: Ctx) -> Response:
    import datetime as dt

    today = dt.datetime.now(ctx.console.zone).date()
    first = site_calendar.parse_day(ctx.query("from")) if ctx.query("from") else \
        today.replace(month=1, day=1)
    last = site_calendar.parse_day(ctx.query("to")) if ctx.query("to") else \
        first.replace(month=12, day=31)
    only = (ctx.query("exceptions") or "").lower() in ("1", "true", "yes")
    days = await ctx.console.db.run(site_calendar.list_days, first, last, exceptions_only=only)
    return json_response({"from": first.isoformat(), "to": last.isoformat(),
                          "days": [d.as_dict() for d in days]})


def _calendar_add(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        body = ctx.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("workday"), bool):
            raise InvalidRequest({"workday": "is required: true (a working day) or false "
                                             "(a day off)"})
        unknown = sorted(set(body) - {"day", "workday", "note"})
        if unknown:
            raise InvalidRequest({unknown[0]: "is not a field of a calendar day"})
        day = site_calendar.parse_day(body.get("day") or "")
        note = body.get("note") if isinstance(body.get("note"), str) else None
        user = ctx.user
        assert user is not None

        def add(session: Session) -> dict[str, Any]:
            stored = site_calendar.add_day(session, day, workday=body["workday"], note=note,
                                           actor=user.username)
            audit.record(session, actor=user.username, role=user.role, action="calendar.add",
                         target=day.isoformat(), ip=ctx.ip,
                         details={"workday": body["workday"], "note": note})
            return stored.as_dict()
        return json_response(await ctx.console.db.run(add), 201)
    return handle


def _calendar_remove(plugin: TicketLife) -> Any:
    async def handle(ctx: Ctx) -> Response:
        day = site_calendar.parse_day(ctx.params["day"])
        user = ctx.user
        assert user is not None

        def remove(session: Session) -> bool:
            gone = site_calendar.remove_day(session, day)
            audit.record(session, actor=user.username, role=user.role,
                         action="calendar.remove", target=day.isoformat(), ip=ctx.ip,
                         outcome="ok" if gone else "failed")
            return gone
        return json_response({"day": day.isoformat(), "removed": await ctx.console.db.run(remove)})
    return handle


def department_rows(session: Session) -> list[dict[str, Any]]:
    """Every department with its duty number (for the supervisor's page and the API)."""
    return [{"code": d.code, "name": d.name, "kind": d.kind, "duty_number": d.duty_number}
            for d in session.scalars(select(Department).order_by(Department.code))]


def set_duty_number(session: Session, code: str, number: str | None, *, actor: str,
                    role: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """Set (or clear, with None) the department's duty number; audited. Raises
    NoSuchDepartment, InvalidRequest for a number that is not one."""
    dept = session.scalars(select(Department).where(Department.code == code)).first()
    if dept is None:
        raise NoSuchDepartment(code)
    if number:
        try:
            number = phone.normalise(number)
        except phone.InvalidPhoneNumber as e:
            raise InvalidRequest({"number": str(e)}) from None
    dept.duty_number = number or None
    audit.record(session, actor=actor, role=role, action="department.duty", target=code,
                 ip=ip, details={"number": number})
    return {"code": dept.code, "name": dept.name, "kind": dept.kind,
            "duty_number": dept.duty_number}


async def _departments(ctx: Ctx) -> Response:
    rows = await ctx.console.db.run(department_rows)
    if ctx.user is not None and ctx.user.role not in SUPERVISION:
        for row in rows:
            row.pop("duty_number")
    return json_response({"departments": rows})


async def _duty(ctx: Ctx) -> Response:
    body = ctx.json_body()
    if not isinstance(body, dict) or not (body.get("number") is None
                                          or isinstance(body.get("number"), str)):
        raise InvalidRequest({"number": 'send {"number": "..."} (null clears it)'})
    user = ctx.user
    assert user is not None
    return json_response(await ctx.console.db.run(
        set_duty_number, ctx.params["code"], body.get("number"), actor=user.username,
        role=user.role, ip=ctx.ip))


# -- the OpenAPI document's part -------------------------------------------------------------------

def openapi_paths() -> dict[str, Any]:
    """The paths above for ``/api/openapi.json`` (merged by ``hotline.openapi``)."""
    from hotline.tickets.service import EDITABLE, MAX_EXTENSION_DAYS

    error = {"$ref": "#/components/schemas/Error"}

    def responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
        text = {400: "bad input (the message names the field)", 401: "not signed in",
                403: "role or department not allowed, or CSRF token missing",
                404: "no such ticket (or not yours to see)",
                409: "not allowed from the ticket's status, or the ticket changed since "
                     "your version (details.ticket is its current state)",
                413: "file too large", 415: "body is not JSON, or file type not accepted",
                429: "too many open streams of yours ([web] max_streams_per_user)",
                503: "too many streams"}
        out = {"200": ok}
        out.update({str(c): {"description": text[c], "content": {
            "application/json": {"schema": error}}} for c in codes})
        return out

    ticket = {"description": "the ticket as you may see it (light, actions you may take)",
              "content": {"application/json": {"schema": {
                  "$ref": "#/components/schemas/TicketLife"}}}}
    obj = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    ticket_id = {"name": "ticket_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}
    version = {"type": "integer", "minimum": 1,
               "description": "the ticket's version as you read it: 409 if it changed since"}
    text = {"type": "string", "maxLength": 2000}
    bodies: dict[str, tuple[str, dict[str, Any], list[str]]] = {
        "dispatch": ("Dispatch (派单) to a lead department and co-handling ones, with an "
                     "instruction; the department's clock starts", {
                         "department": {"type": "string", "maxLength": 32},
                         "co_departments": {"type": "array", "maxItems": 10,
                                            "items": {"type": "string", "maxLength": 32}},
                         "instruction": text}, ["department"]),
        "accept": ("Accept (签收) by the lead department's liaison", {"text": text}, []),
        "return": ("Return (退单) to the dispatcher, with a reason", {"reason": text},
                   ["reason"]),
        "extend": ("Ask for an extension (延期申请): working days from the deadline", {
            "days": {"type": "number", "exclusiveMinimum": 0,
                     "maximum": MAX_EXTENSION_DAYS}, "reason": text}, ["days", "reason"]),
        "contact": ("The citizen was contacted (首次联系; stops the 24 h clock)",
                    {"text": text}, []),
        "reply": ("The handling result (办理回复) with attachments uploaded before; a ticket "
                  "only dispatched is accepted first; an agent answers one without "
                  "department on the spot", {
                      "text": {"type": "string", "maxLength": 5000},
                      "attachments": {"type": "array", "maxItems": 20,
                                      "items": {"type": "integer"}}}, ["text"]),
        "follow_up": ("Follow-up (回访): satisfied closes; not satisfied reopens to the same "
                      "department with a shorter deadline", {
                          "satisfied": {"type": "boolean"}, "solved": {"type": "boolean"},
                          "text": text}, []),
        "close": ("Close (办结)", {"text": text}, []),
        "reopen": ("Reopen (重办) with a reason", {"reason": text}, ["reason"]),
        "edit": ("Correct fields (kind before dispatch); history kept", {
            field: {"type": ["string", "null"], "maxLength": longest}
            for field, longest in EDITABLE.items()}, []),
    }
    paths: dict[str, Any] = {}
    for action, (summary, props, required) in bodies.items():
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {**props, "version": version}, "required": required}
        paths[f"/api/tickets/{{ticket_id}}/{action.replace('_', '-')}"] = {"post": {
            "summary": summary + f" (roles: {', '.join(sorted(ACTION_ROLES[action]))})",
            "security": [{"session": [], "csrf": []}], "parameters": [ticket_id],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": schema}}},
            "responses": responses(ticket, 400, 401, 403, 404, 409, 415)}}
    paths["/api/extensions/{extension_id}/decision"] = {"post": {
        "summary": "Approve (the deadline moves) or refuse (a note is required) an extension "
                   "request (supervisor, admin)",
        "security": [{"session": [], "csrf": []}],
        "parameters": [{"name": "extension_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 0}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["approve"], "additionalProperties": False,
            "properties": {"approve": {"type": "boolean"}, "note": text,
                           "version": version}}}}},
        "responses": responses(ticket, 400, 401, 403, 404, 409, 415)}}
    paths["/api/tickets/{ticket_id}/attachments"] = {"post": {
        "summary": "Upload a file for the reply to come (raw body, its Content-Type; the name "
                   "in ?name=); size- and type-limited",
        "security": [{"session": [], "csrf": []}],
        "parameters": [ticket_id, {"name": "name", "in": "query", "required": True,
                                   "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}},
        "responses": {"201": obj, **{k: v for k, v in responses(obj, 400, 401, 403, 404, 413,
                                                                 415).items() if k != "200"}}}}
    paths["/api/attachments/{attachment_id}"] = {"get": {
        "summary": "Download an attachment of a ticket you may read",
        "security": [{"session": []}],
        "parameters": [{"name": "attachment_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 0}}],
        "responses": {"200": {"description": "the file", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            **{k: v for k, v in responses(obj, 401, 404).items() if k != "200"}}}}
    paths["/api/worklists/{name}"] = {"get": {
        "summary": "A worklist with lights: dispatch (派单), department (a liaison's own; "
                   "others name ?department=), supervise (督办: overdue, extension requests, "
                   "notices), follow-up (回访), mine (an agent's auto-opened tickets to complete)",
        "security": [{"session": []}],
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(LISTS)}},
                       {"name": "department", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                       {"name": "offset", "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 100000}}],
        "responses": responses(obj, 400, 401, 403, 404)}}
    paths["/api/tickets/stream"] = {"get": {
        "summary": "Server-Sent Events: ticket (a ticket changed) and notice (a reminder, a "
                   "督办 notice, a reminder call's outcome); a liaison gets their department's",
        "security": [{"session": []}],
        "responses": {"200": {"description": "an event stream", "content": {
            "text/event-stream": {"schema": {"type": "string"}}}},
            **{k: v for k, v in responses(obj, 401, 429, 503).items() if k != "200"}}}}
    day = {"type": "string", "format": "date"}
    paths["/api/calendar"] = {
        "get": {"summary": "Working days from..to (default this year) and why: site, national "
                           "(chinesecalendar) or fallback (Mon-Fri)",
                "security": [{"session": []}],
                "parameters": [{"name": "from", "in": "query", "schema": day},
                               {"name": "to", "in": "query", "schema": day},
                               {"name": "exceptions", "in": "query",
                                "schema": {"type": "boolean"}}],
                "responses": responses(obj, 400, 401)},
        "post": {"summary": "Add a site exception: a local holiday or a day worked",
                 "security": [{"session": [], "csrf": []}],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["day", "workday"],
                     "additionalProperties": False,
                     "properties": {"day": day, "workday": {"type": "boolean"},
                                    "note": {"type": "string", "maxLength": 200}}}}}},
                 "responses": {"201": obj, **{k: v for k, v in responses(
                     obj, 400, 401, 403, 415).items() if k != "200"}}}}
    paths["/api/calendar/{day}"] = {"delete": {
        "summary": "Remove a site exception", "security": [{"session": [], "csrf": []}],
        "parameters": [{"name": "day", "in": "path", "required": True, "schema": day}],
        "responses": responses(obj, 400, 401, 403)}}
    paths["/api/departments"] = {"get": {
        "summary": "Departments (with duty numbers for supervisors)",
        "security": [{"session": []}], "responses": responses(obj, 401)}}
    paths["/api/departments/{code}/duty"] = {"put": {
        "summary": "Set the department's duty number (reminder calls go there); null clears it",
        "security": [{"session": [], "csrf": []}],
        "parameters": [{"name": "code", "in": "path", "required": True,
                        "schema": {"type": "string", "maxLength": 32}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["number"], "additionalProperties": False,
            "properties": {"number": {"type": ["string", "null"], "maxLength": 30}}}}}},
        "responses": responses(obj, 400, 401, 403, 415)}}
    return paths


def openapi_schemas() -> dict[str, Any]:
    """The schemas the paths above refer to."""
    return {"TicketLife": {
        "type": "object", "required": ["id", "number", "status", "version", "light"],
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "status": {"type": "string"}, "version": {"type": "integer"},
            "light": {"type": "string", "enum": ["green", "yellow", "red"]},
            "due_at": {"type": ["string", "null"]},
            "department": {"type": ["string", "null"]},
            "co_departments": {"type": "array", "items": {"type": "object"}},
            "attachments": {"type": "array", "items": {"type": "object"}},
            "extensions": {"type": "array", "items": {"type": "object"}},
            "actions": {"type": "array", "items": {"type": "string"}},
            "citizen_phone": {"type": ["string", "null"]}}}}


__all__ += ["openapi_schemas", "department_rows", "set_duty_number"]
