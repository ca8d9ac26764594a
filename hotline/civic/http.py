# -*- test-case-name: tests.civic.test_http -*-
"""The routes of hearings and projects: the JSON API (``/api/civic/...``), the console's pages
(``/civic``) and the public pages and calls (``/public/civic``, ``/api/public/civic``, no
sign-in, no personal data), all on the units of work of L{council}, L{projects},
L{applications} and L{organisations}. A refused step is audited, then answered."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hotline.civic import applications, council, demands, organisations, projects
from hotline.tickets.exceptions import TicketError
from hotline.tickets.pages import form_files
from hotline.web.roles import CIVIC_READERS, CIVIC_STAFF, ORGANISATIONS, REVIEWERS
from hotline.web.routing import (
    Ctx,
    HTTPError,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
)

if TYPE_CHECKING:
    from hotline.civic.plugin import CivicPages

__all__ = ["register", "KINDS"]


@dataclass(frozen=True)
class Kind:
    """One kind of civic record as the routes see it."""

    module: ModuleType
    #: The audit's prefix (council.notice, project.claim, ...).
    audit: str
    #: Who creates one, and with which unit of work.
    create_roles: frozenset[str]
    create: Callable[..., dict[str, Any]]
    #: step → roles allowed.
    steps: dict[str, frozenset[str]]
    template: str


KINDS: dict[str, Kind] = {
    "topics": Kind(council, "council", CIVIC_STAFF, council.create,
                   {"notice": CIVIC_STAFF, "meeting": CIVIC_STAFF, "report": CIVIC_STAFF},
                   "civic_topic.html"),
    "proposals": Kind(projects, "project", CIVIC_STAFF, projects.create,
                      {"claim": ORGANISATIONS, "progress": ORGANISATIONS,
                       "finish": ORGANISATIONS}, "civic_proposal.html"),
    "applications": Kind(applications, "application", ORGANISATIONS, applications.submit,
                         {"review": REVIEWERS, "decide": CIVIC_STAFF},
                         "civic_application.html"),
}
#: Form fields each step or creation takes (pages post forms; the API takes JSON).
_FORM_FIELDS = ("title", "category", "level", "council", "summary", "tickets", "incident",
                "notice_days", "meeting_at", "meeting_place", "participants", "minutes",
                "decisions", "report", "area", "estimated_cost", "text", "result", "budget",
                "benefit", "score", "comment", "approve", "subsidy_ratio", "note", "code",
                "name", "username")
_SPLIT = re.compile(r"[\s,，、]+")


def register(router: Router, pages: CivicPages) -> None:
    router.add("GET", "/api/civic", _overview, roles=CIVIC_READERS)
    router.add("POST", "/api/civic/organisations", _org_add(), roles=CIVIC_STAFF)
    router.add("POST", "/api/civic/organisations/{code:str}/members", _org_member(),
               roles=CIVIC_STAFF)
    router.add("GET", "/api/civic/photos/{photo_id:int}", _photo(pages), roles=CIVIC_READERS)
    router.add("GET", "/api/public/civic", _public_lists, roles=None)
    router.add("GET", "/civic", _overview_page(pages), roles=CIVIC_READERS, page=True)
    router.add("POST", "/civic/organisations/new", _org_form(False), roles=CIVIC_STAFF,
               page=True)
    router.add("POST", "/civic/organisations/{code:str}/members", _org_form(True),
               roles=CIVIC_STAFF, page=True)
    router.add("GET", "/public/civic", _public_page(pages), roles=None, page=True)
    photos_body = pages.progress_limit(projects.MAX_PHOTOS)
    for name, kind in KINDS.items():
        router.add("POST", f"/api/civic/{name}", _create(kind), roles=kind.create_roles)
        router.add("GET", f"/api/civic/{name}/{{item_id:int}}", _view(kind),
                   roles=CIVIC_READERS)
        router.add("GET", f"/api/public/civic/{name}/{{item_id:int}}", _public_view(kind),
                   roles=None)
        router.add("GET", f"/public/civic/{name}/{{item_id:int}}", _public_item(pages, name),
                   roles=None, page=True)
        router.add("POST", f"/civic/{name}/new", _create_form(name, kind),
                   roles=kind.create_roles, page=True)
        router.add("GET", f"/civic/{name}/{{item_id:int}}", _page(pages, kind),
                   roles=CIVIC_READERS, page=True)
        for step, roles in kind.steps.items():
            limit = photos_body if step == "progress" else None
            extra = {"max_body": limit} if limit else {}
            router.add("POST", f"/api/civic/{name}/{{item_id:int}}/{step}",
                       _step(pages, kind, step), roles=roles, **extra)
            router.add("POST", f"/civic/{name}/{{item_id:int}}/do/{step}",
                       _step_form(pages, name, kind, step), roles=roles, page=True, **extra)


async def _run(ctx: Ctx, action: str, target: str | None, work: Callable[..., Any],
               *args: Any, **kwargs: Any) -> Any:
    """One unit of work as the signed-in user; a refusal is audited (its own unit), then
    raised."""
    console, user = ctx.console, ctx.user
    try:
        return await console.db.run(work, console.tickets, user, *args, ip=ctx.ip, **kwargs)
    except TicketError as e:
        await console.db.run(demands.audit_refusal, user, action, target, e, ip=ctx.ip)
        raise


def _form_body(ctx: Ctx) -> dict[str, Any]:
    """A posted form as the API's JSON body: ticket numbers split into a list."""
    body: dict[str, Any] = {}
    for name in _FORM_FIELDS:
        value = ctx.form(name)
        if value is not None and value.strip():
            body[name] = value
    if "tickets" in body:
        body["tickets"] = [t for t in _SPLIT.split(body["tickets"]) if t]
    return body


def _body(ctx: Ctx) -> dict[str, Any]:
    """JSON, or a multipart/urlencoded form (a progress report with photos)."""
    ctype = (ctx.request.getHeader(b"content-type") or b"").lower()
    if ctype.startswith(b"multipart/form-data"):
        return _form_body(ctx)
    return ctx.json_body()


async def _overview(ctx: Ctx) -> Response:
    return json_response(await ctx.console.db.run(_everything, ctx.console.tickets, ctx.user))


def _everything(session: Any, service: Any, user: Any) -> dict[str, Any]:
    return {"topics": council.overview(session, service, user),
            "proposals": projects.overview(session, service, user),
            "applications": applications.overview(session, service, user),
            "organisations": organisations.listing(session, service, user),
            "own_organisation": (lambda o: o.code if o else None)(
                organisations.of_user(session, user))}


def _create(kind: Kind) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await _run(ctx, f"{kind.audit}.create", None, kind.create,
                                        ctx.json_body()), 201)
    return handle


def _view(kind: Kind) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await ctx.console.db.run(kind.module.view, ctx.console.tickets,
                                                      ctx.user, ctx.params["item_id"]))
    return handle


def _step(pages: CivicPages, kind: Kind, step: str) -> Any:
    work = getattr(kind.module, step)

    async def handle(ctx: Ctx) -> Response:
        item_id = ctx.params["item_id"]
        extra = {"store": pages.store, "files": form_files(ctx.request)} \
            if step == "progress" else {}
        return json_response(await _run(ctx, f"{kind.audit}.{step}", str(item_id), work,
                                        item_id, _body(ctx), **extra))
    handle.__name__ = f"civic_{kind.audit}_{step}"
    return handle


def _org_add() -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await _run(ctx, "civic.organisation.add", None, organisations.add,
                                        ctx.json_body()), 201)
    return handle


def _org_member() -> Any:
    async def handle(ctx: Ctx) -> Response:
        code = ctx.params["code"]
        return json_response(await _run(ctx, "civic.organisation.member", code,
                                        organisations.add_member, code, ctx.json_body()))
    return handle


def _photo(pages: CivicPages) -> Any:
    async def handle(ctx: Ctx) -> Response:
        data, name, ctype = await ctx.console.db.run(
            projects.photo, ctx.console.tickets, ctx.user, ctx.params["photo_id"], pages.store)
        return Response(200, data, ctype.encode(), headers={
            b"Content-Disposition": b"inline; filename*=UTF-8''" + quote(name).encode()})
    return handle


# -- public ---------------------------------------------------------------------------------------

def _public_everything(session: Any) -> dict[str, Any]:
    return {"topics": council.public_list(session), "proposals": projects.public_list(session),
            "applications": applications.public_list(session)}


async def _public_lists(ctx: Ctx) -> Response:
    return json_response(await ctx.console.db.run(_public_everything))


def _public_view(kind: Kind) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return json_response(await ctx.console.db.run(kind.module.public_view,
                                                      ctx.params["item_id"]))
    return handle


def _public_page(pages: CivicPages) -> Any:
    async def handle(ctx: Ctx) -> Response:
        return html_response(ctx.console.render_page(
            "public_civic.html", ctx, templates=pages.templates,
            **await ctx.console.db.run(_public_everything)))
    return handle


def _public_item(pages: CivicPages, name: str) -> Any:
    module = KINDS[name].module

    async def handle(ctx: Ctx) -> Response:
        try:
            item = await ctx.console.db.run(module.public_view, ctx.params["item_id"])
        except TicketError as e:
            raise HTTPError(404, e.error_id, "没有这条公开信息 (no such public record)") from None
        return html_response(ctx.console.render_page(
            "public_civic_item.html", ctx, templates=pages.templates, kind=name, item=item))
    return handle


# -- the console's pages ----------------------------------------------------------------------------

def _messages(ctx: Ctx) -> dict[str, str]:
    return {"done": (ctx.query("done") or "")[:40], "error": (ctx.query("error") or "")[:400]}


def _overview_page(pages: CivicPages) -> Any:
    async def handle(ctx: Ctx) -> Response:
        data = await ctx.console.db.run(_everything, ctx.console.tickets, ctx.user)
        return html_response(ctx.console.render_page(
            "civic.html", ctx, templates=pages.templates, kinds=KINDS, **data,
            **_messages(ctx)))
    return handle


def _page(pages: CivicPages, kind: Kind) -> Any:
    async def handle(ctx: Ctx) -> Response:
        item = await ctx.console.db.run(kind.module.view, ctx.console.tickets, ctx.user,
                                        ctx.params["item_id"])
        role = ctx.user.role if ctx.user else ""
        may = [step for step, roles in kind.steps.items() if role in roles]
        return html_response(ctx.console.render_page(
            kind.template, ctx, templates=pages.templates, item=item, may=may,
            **_messages(ctx)))
    return handle


def _create_form(name: str, kind: Kind) -> Any:
    async def handle(ctx: Ctx) -> Response:
        try:
            item = await _run(ctx, f"{kind.audit}.create", None, kind.create, _form_body(ctx))
        except TicketError as e:
            return redirect("/civic?error=" + quote(e.message[:400]))
        return redirect(f"/civic/{name}/{item['id']}?done=create")
    return handle


def _step_form(pages: CivicPages, name: str, kind: Kind, step: str) -> Any:
    work = getattr(kind.module, step)

    async def handle(ctx: Ctx) -> Response:
        item_id = ctx.params["item_id"]
        back = f"/civic/{name}/{item_id}"
        extra = {"store": pages.store, "files": form_files(ctx.request)} \
            if step == "progress" else {}
        try:
            await _run(ctx, f"{kind.audit}.{step}", str(item_id), work, item_id,
                       _form_body(ctx), **extra)
        except TicketError as e:
            if e.status_code == 404:
                raise HTTPError(404, e.error_id, e.message) from None
            return redirect(f"{back}?error=" + quote(e.message[:400]))
        return redirect(f"{back}?done={step}")
    handle.__name__ = f"civic_{kind.audit}_{step}_form"
    return handle


def _org_form(member: bool) -> Any:
    async def handle(ctx: Ctx) -> Response:
        body = _form_body(ctx)
        try:
            if member:
                code = ctx.params["code"]
                await _run(ctx, "civic.organisation.member", code, organisations.add_member,
                           code, body)
            else:
                await _run(ctx, "civic.organisation.add", None, organisations.add, body)
        except TicketError as e:
            return redirect("/civic?error=" + quote(e.message[:400]))
        return redirect("/civic?done=organisation")
    return handle


# -- the OpenAPI document ---------------------------------------------------------------------------

_STR = {"type": "string", "maxLength": 5000}
_INT = {"type": "integer"}
#: What each creation and step takes, for the document.
_BODIES: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {
    ("topics", "create"): ({"title": _STR, "category": _STR, "council": _STR, "summary": _STR,
                            "level": {"type": "string", "enum": ["street", "community"]},
                            "tickets": {"type": "array", "items": {"type": "string"}},
                            "incident": _INT},
                           ["title", "category", "council", "summary", "level"]),
    ("topics", "notice"): ({"notice_days": {"type": "integer", "minimum": 1,
                                            "maximum": council.MAX_NOTICE_DAYS},
                            "meeting_at": {"type": "string",
                                           "description": "site-local, 2026-12-20T19:30"},
                            "meeting_place": _STR}, ["notice_days", "meeting_place"]),
    ("topics", "meeting"): ({"participants": _STR, "minutes": _STR, "decisions": _STR},
                            ["participants", "minutes", "decisions"]),
    ("topics", "report"): ({"report": _STR}, ["report"]),
    ("proposals", "create"): ({"title": _STR, "category": _STR, "area": _STR, "summary": _STR,
                               "estimated_cost": {"type": "integer", "minimum": 1,
                                                  "maximum": projects.MAX_COST},
                               "tickets": {"type": "array", "items": {"type": "string"}},
                               "incident": _INT},
                              ["title", "category", "area", "summary", "estimated_cost"]),
    ("proposals", "claim"): ({}, []),
    ("proposals", "progress"): ({"text": _STR}, ["text"]),
    ("proposals", "finish"): ({"result": _STR}, ["result"]),
    ("applications", "create"): ({"title": _STR, "summary": _STR, "benefit": _STR,
                                  "budget": {"type": "integer", "minimum": 1,
                                             "maximum": applications.MAX_BUDGET}},
                                 ["title", "summary", "benefit", "budget"]),
    ("applications", "review"): ({"score": {"type": "integer", "minimum": 0, "maximum": 100},
                                  "comment": _STR}, ["score"]),
    ("applications", "decide"): ({"approve": {"type": "boolean"},
                                  "subsidy_ratio": {"type": "integer", "minimum": 0,
                                                    "maximum": 100}, "note": _STR},
                                 ["approve"]),
}
_SUMMARIES = {
    ("topics", "create"): "Collect a council topic (听证议事) from tickets or an incident",
    ("topics", "notice"): "Publish the topic's notice: period, meeting time and place",
    ("topics", "meeting"): "Record the meeting: participants, minutes, decisions",
    ("topics", "report"): "Publish the after-report; every linked ticket is told the outcome",
    ("proposals", "create"): "Merge demands into a project proposal (申领制), published",
    ("proposals", "claim"): "Claim the proposal for the user's organisation (409 if claimed)",
    ("proposals", "progress"): "Report progress; multipart/form-data adds photos (files)",
    ("proposals", "finish"): "Finish the project; every linked ticket is told the result",
    ("applications", "create"): "Apply with the organisation's own project (申报制)",
    ("applications", "review"): "Score an application 0-100 (not the applicant's own "
                                "organisation; once per reviewer)",
    ("applications", "decide"): "Decide after two reviews, with the subsidy ratio; published",
}


def openapi_paths() -> dict[str, Any]:
    """The calls above for ``/api/openapi.json`` (merged by ``hotline.openapi``)."""
    error = {"$ref": "#/components/schemas/Error"}
    obj = {"type": "object"}
    text = {400: "bad input (the message names the field)", 401: "not signed in",
            403: "role not allowed, or CSRF token missing", 404: "not found",
            409: "not allowed in the current state (claimed, decided, reviewed)",
            413: "a photo is too large", 415: "body is not JSON or a photo's type is refused"}

    def responses(status: str, *codes: int) -> dict[str, Any]:
        out = {status: {"description": "OK", "content": {"application/json": {"schema": obj}}}}
        out.update({str(c): {"description": text[c], "content": {
            "application/json": {"schema": error}}} for c in codes})
        return out

    def body(key: tuple[str, str]) -> dict[str, Any]:
        properties, required = _BODIES[key]
        return {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": properties, "required": required}}}}

    item_id = {"name": "item_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}
    session = [{"session": []}]
    write = [{"session": [], "csrf": []}]
    paths: dict[str, Any] = {
        "/api/civic": {"get": {
            "summary": "Council topics, proposals, applications and organisations",
            "security": session, "responses": responses("200", 401, 403)}},
        "/api/civic/organisations": {"post": {
            "summary": "Register an organisation (company, social organisation, donor)",
            "security": write, "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "code": {"type": "string", "maxLength": 32},
                    "name": {"type": "string", "maxLength": 100}},
                    "required": ["code", "name"]}}}},
            "responses": responses("201", 400, 401, 403, 415)}},
        "/api/civic/organisations/{code}/members": {"post": {
            "summary": "Let an account of role organisation act for the organisation",
            "security": write,
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 32}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"username": {"type": "string",
                                                              "maxLength": 50}},
                "required": ["username"]}}}},
            "responses": responses("200", 400, 401, 403, 404, 415)}},
        "/api/civic/photos/{photo_id}": {"get": {
            "summary": "A progress photo of a project", "security": session,
            "parameters": [{"name": "photo_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0,
                                       "maximum": 999_999_999}}],
            "responses": {"200": {"description": "the photo",
                                  "content": {"image/*": {}}},
                          **{k: v for k, v in responses("200", 401, 403, 404).items()
                             if k != "200"}}}},
        "/api/public/civic": {"get": {
            "summary": "What the public may read (no sign-in, no personal data): noticed "
                       "topics, proposals, decided applications",
            "security": [], "responses": responses("200")}},
    }
    for name in KINDS:
        paths[f"/api/civic/{name}"] = {"post": {
            "summary": _SUMMARIES[(name, "create")], "security": write,
            "requestBody": body((name, "create")),
            "responses": responses("201", 400, 401, 403, 404, 415)}}
        paths[f"/api/civic/{name}/{{item_id}}"] = {"get": {
            "summary": f"One of the {name}", "security": session, "parameters": [item_id],
            "responses": responses("200", 401, 403, 404)}}
        paths[f"/api/public/civic/{name}/{{item_id}}"] = {"get": {
            "summary": f"One published item of the {name} (no sign-in, no personal data)",
            "security": [], "parameters": [item_id], "responses": responses("200", 404)}}
        for step in KINDS[name].steps:
            paths[f"/api/civic/{name}/{{item_id}}/{step}"] = {"post": {
                "summary": _SUMMARIES[(name, step)], "security": write,
                "parameters": [item_id], "requestBody": body((name, step)),
                "responses": responses("200", 400, 401, 403, 404, 409, 413, 415)}}
    return paths
