# -*- test-case-name: tests.grid.test_http -*-
"""The grid workers' pages and API calls, and the map's.

Pages: ``/grid/`` (the phone page, an installable web app with its manifest and service
worker), ``/grid/verify`` (dispatchers send tickets to be verified on site and read the
answers), ``/grid/map`` (the map in force, its drill-down, map and address table import).
API: ``/api/grid/...`` for the phone (reports with photos, visits, tasks, the daily log; every
write carries the phone's idempotency key), the map (areas, placing a point or address, import
and export), ``/api/tickets/{id}/verify`` and the photos of a ticket, served only to whom may
see the ticket. Handlers stay thin: one service call in one unit of work, audited.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twisted.internet import threads

from db.models import GridWorker, Ticket, TicketPhoto
from hotline.grid import maps
from hotline.grid.exceptions import GridError, InvalidInput
from hotline.grid.locate import export_addresses, import_addresses
from hotline.grid.mapfile import read_map
from hotline.grid.photos import StoredPhoto
from hotline.grid.schemas import (
    LEVEL_LABELS,
    REPORT_CATEGORIES,
    RESULT_LABELS,
    load_answer,
    load_log,
    load_report,
    load_visit,
)
from hotline.grid.service import (
    day_logs,
    may_see_ticket,
    task_view,
    ticket_of_photo,
    worker_for_user,
)
from hotline.tickets.exceptions import NoSuchTicket
from hotline.tickets.http import load_ticket
from hotline.tickets.schemas import TicketKind
from hotline.web import audit
from hotline.web.accounts import Principal
from hotline.web.roles import (
    ADMIN,
    GRID_WORKERS,
    MAP_READERS,
    SUPERVISION,
    TICKET_READERS,
    VERIFY_SENDERS,
    Role,
)
from hotline.web.routing import (
    SECURITY_HEADERS,
    Ctx,
    HTTPError,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
)

if TYPE_CHECKING:
    from hotline.grid.plugin import GridPlugin

__all__ = ["register", "ticket_extras", "GRID_CSP"]

#: The phone page previews photos it has not sent yet (blob: URLs); nothing else is loosened.
GRID_CSP = SECURITY_HEADERS[b"Content-Security-Policy"].replace(
    b"img-src 'self' data:", b"img-src 'self' data: blob:")
#: The phone page's own files: name → content type.
_STATIC = {"grid.js": b"text/javascript; charset=utf-8", "grid.css": b"text/css; charset=utf-8",
           "grid-admin.js": b"text/javascript; charset=utf-8",
           "icon-192.png": b"image/png", "icon-512.png": b"image/png"}
_PHOTO_READERS = TICKET_READERS | GRID_WORKERS


def register(router: Router, plugin: GridPlugin) -> None:
    """Mount the grid's pages and calls; ``plugin`` sets the upload limits."""
    limit = plugin.upload_limit
    router.add("GET", "/grid", _to_slash, roles=GRID_WORKERS, page=True)
    router.add("GET", "/grid/", _phone_page, roles=GRID_WORKERS, page=True)
    router.add("GET", "/grid/manifest.webmanifest", _manifest, roles=None, page=True)
    router.add("GET", "/grid/sw.js", _service_worker, roles=None, page=True)
    router.add("GET", "/grid/static/{name:str}", _static, roles=None, page=True)
    router.add("GET", "/grid/verify", _verify_page, roles=VERIFY_SENDERS, page=True)
    router.add("POST", "/grid/verify", _verify_form, roles=VERIFY_SENDERS, page=True)
    router.add("GET", "/grid/map", _map_page, roles=SUPERVISION, page=True)
    router.add("GET", "/api/grid/me", _me, roles=GRID_WORKERS)
    router.add("POST", "/api/grid/reports", _report, roles=GRID_WORKERS, max_body=limit)
    router.add("GET", "/api/grid/reports", _reports, roles=GRID_WORKERS)
    router.add("POST", "/api/grid/visits", _visit, roles=GRID_WORKERS)
    router.add("GET", "/api/grid/visits", _visits, roles=GRID_WORKERS)
    router.add("GET", "/api/grid/tasks", _my_tasks, roles=GRID_WORKERS)
    router.add("POST", "/api/grid/tasks/{task_id:int}/answer", _answer, roles=GRID_WORKERS,
               max_body=limit)
    router.add("POST", "/api/grid/tasks/{task_id:int}/cancel", _cancel, roles=VERIFY_SENDERS)
    router.add("GET", "/api/grid/verifications", _all_tasks, roles=VERIFY_SENDERS)
    router.add("GET", "/api/grid/log", _my_log, roles=GRID_WORKERS)
    router.add("PUT", "/api/grid/log", _write_log, roles=GRID_WORKERS)
    router.add("GET", "/api/grid/logs", _day_logs, roles=SUPERVISION)
    router.add("GET", "/api/grid/areas", _areas, roles=MAP_READERS)
    router.add("GET", "/api/grid/locate", _locate, roles=MAP_READERS)
    router.add("GET", "/api/grid/map", _export_map, roles=SUPERVISION)
    router.add("POST", "/api/grid/map", _import_map, roles=ADMIN, max_body=plugin.map_max_bytes)
    router.add("GET", "/api/grid/addresses", _export_addresses, roles=SUPERVISION)
    router.add("POST", "/api/grid/addresses", _import_addresses, roles=ADMIN,
               max_body=plugin.map_max_bytes)
    router.add("POST", "/api/tickets/{ticket_id:int}/verify", _send_task, roles=VERIFY_SENDERS)
    router.add("GET", "/api/tickets/{ticket_id:int}/photos", _photos, roles=_PHOTO_READERS)
    router.add("GET", "/api/tickets/{ticket_id:int}/photos/{photo_id:int}", _photo,
               roles=_PHOTO_READERS)


def _plugin(ctx: Ctx) -> GridPlugin:
    return ctx.console.grid


def _render(ctx: Ctx, name: str, **values: Any) -> Response:
    """A page from the package's templates, with what the console's pages get."""
    body = ctx.console.render_page(name, ctx, templates=_plugin(ctx).templates, **values)
    resp = html_response(body)
    resp.headers[b"Content-Security-Policy"] = GRID_CSP
    return resp


def _actor(user: Principal) -> str:
    return f"grid:{user.username}" if user.role == Role.GRID_WORKER else user.username


def _fields(ctx: Ctx, names: tuple[str, ...]) -> dict[str, Any]:
    """Text fields of a form or multipart post (absent ones left out)."""
    return {n: v for n in names if (v := ctx.form(n)) is not None}


async def _photos_of(ctx: Ctx) -> list[tuple[StoredPhoto, bytes]]:
    """The ``photo`` parts of a multipart post, checked and resized off the reactor."""
    plugin = _plugin(ctx)
    raw = [p for p in ctx.request.args.get(b"photo", []) if p]
    if len(raw) > plugin.photos_per_report:
        raise InvalidInput({"photo": f"at most {plugin.photos_per_report} photos"})
    store = plugin.service.photos
    return [await threads.deferToThread(store.prepare, data, name=f"photo {i}")
            for i, data in enumerate(raw, start=1)]


async def _unit(ctx: Ctx, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await ctx.console.db.run(fn, *args, **kwargs)


def _worker(session: Session, ctx: Ctx) -> GridWorker:
    assert ctx.user is not None
    return _plugin(ctx).service.worker(session, ctx.user.user_id, ctx.user.username)


# -- the phone page and what makes it an installable app ---------------------------------------

async def _to_slash(ctx: Ctx) -> Response:
    return redirect("/grid/")


async def _phone_page(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    profile = await _unit(ctx, lambda s: service.profile(s, _worker(s, ctx)))
    info = await _unit(ctx, maps.current_map)
    return _render(ctx, "grid.html", profile=profile, categories=REPORT_CATEGORIES,
                   kinds=[(k.value, n) for k, n in _KIND_LABELS.items()],
                   results=RESULT_LABELS, map_info=info,
                   limits={"photos": _plugin(ctx).photos_per_report})


_KIND_LABELS = {TicketKind.HELP: "求助", TicketKind.COMPLAINT: "投诉",
                TicketKind.SUGGESTION: "建议", TicketKind.CONSULTATION: "咨询"}


async def _manifest(ctx: Ctx) -> Response:
    manifest = {"name": f"网格员 · {ctx.console.config['site']['hotline_number']} 热线",
                "short_name": "网格员", "lang": "zh-CN", "start_url": "/grid/",
                "scope": "/grid/", "display": "standalone", "orientation": "portrait",
                "background_color": "#ffffff", "theme_color": "#1f5fa8",
                "icons": [{"src": "/grid/static/icon-192.png", "sizes": "192x192",
                           "type": "image/png"},
                          {"src": "/grid/static/icon-512.png", "sizes": "512x512",
                           "type": "image/png", "purpose": "any maskable"}]}
    return Response(200, json.dumps(manifest, ensure_ascii=False).encode(),
                    b"application/manifest+json; charset=utf-8")


def _package_file(name: str) -> bytes:
    return resources.files("hotline.grid").joinpath("static", name).read_bytes()


async def _service_worker(ctx: Ctx) -> Response:
    return Response(200, _package_file("sw.js"), b"text/javascript; charset=utf-8",
                    headers={b"Service-Worker-Allowed": b"/grid/"})


async def _static(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    if name not in _STATIC:
        raise HTTPError(404, "not-found", "no such file")
    return Response(200, _package_file(name), _STATIC[name])


async def _me(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    profile = await _unit(ctx, lambda s: service.profile(s, _worker(s, ctx)))
    assert ctx.user is not None
    return json_response({**profile, "username": ctx.user.username, "csrf_token": ctx.csrf()})


# -- reports, visits, tasks, the daily log --------------------------------------------------------

async def _report(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    request = load_report(_fields(ctx, ("key", "made_at", "category", "description", "kind",
                                        "latitude", "longitude", "address")),
                          now=service.clock())
    seen = await _unit(ctx, service.report_by_key, request.key)
    if seen is None:
        photos = await _photos_of(ctx)

        def file(session: Session) -> Any:
            filed = service.report(session, _worker(session, ctx), request, photos,
                                   actor=_actor(user))
            audit.record(session, actor=user.username, role=user.role, action="grid.report",
                         target=filed.number, ip=ctx.ip,
                         details={"key": request.key, "photos": len(photos),
                                  "grid": filed.grid})
            return filed

        try:
            filed = await _unit(ctx, file)
        except IntegrityError:  # the same key raced in from a second connection
            filed = await _unit(ctx, service.report_by_key, request.key)
            if filed is None:
                raise
    else:
        filed = await _unit(ctx, lambda s: service.report(s, _worker(s, ctx), request, [],
                                                          actor=_actor(user)))
    return json_response({"ticket_id": filed.ticket_id, "number": filed.number,
                          "grid": filed.grid, "created": filed.created},
                         201 if filed.created else 200)


async def _reports(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    return json_response(await _unit(ctx, lambda s: service.reports(s, _worker(s, ctx))))


async def _visit(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    request = load_visit(body, now=service.clock())

    def keep(session: Session) -> tuple[dict[str, Any], bool]:
        visit, created = service.record_visit(session, _worker(session, ctx), request)
        if created:
            audit.record(session, actor=user.username, role=user.role, action="grid.visit",
                         target=str(visit.id), ip=ctx.ip, details={"key": request.key})
        return {"id": visit.id, "grid": visit.grid.code, "created": created}, created

    try:
        data, created = await _unit(ctx, keep)
    except IntegrityError:
        data, created = await _unit(ctx, keep)
    return json_response(data, 201 if created else 200)


async def _visits(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    return json_response(await _unit(ctx, lambda s: service.visits(s, _worker(s, ctx))))


async def _my_tasks(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    open_only = ctx.query("open") in ("1", "true", "yes")
    return json_response(await _unit(ctx, lambda s: service.tasks(
        s, _worker(s, ctx), open_only=open_only)))


async def _answer(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    request = load_answer(_fields(ctx, ("key", "result", "answer")))
    photos = await _photos_of(ctx)
    task_id = ctx.params["task_id"]

    def answer(session: Session) -> tuple[dict[str, Any], bool]:
        task, created = service.answer_task(session, _worker(session, ctx), task_id, request,
                                            photos, actor=_actor(user))
        if created:
            audit.record(session, actor=user.username, role=user.role, action="grid.answer",
                         target=task.ticket.number, ip=ctx.ip,
                         details={"task": task.id, "result": task.result})
        return service.task_view(session, task), created

    try:
        data, created = await _unit(ctx, answer)
    except IntegrityError:
        data, created = await _unit(ctx, answer)
    return json_response(data, 201 if created else 200)


async def _send_task(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    body = ctx.json_body() if ctx.request.getHeader(b"content-type") else {}
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and not isinstance(note, str):
        raise InvalidInput({"note": "must be text"})
    ticket_id = ctx.params["ticket_id"]

    def send(session: Session) -> dict[str, Any]:
        task = service.send_task(session, ticket_id, actor=user.username, note=note)
        audit.record(session, actor=user.username, role=user.role, action="grid.verify",
                     target=task.ticket.number, ip=ctx.ip, details={"task": task.id})
        return service.task_view(session, task)

    return json_response(await _unit(ctx, send), 201)


async def _cancel(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service

    def cancel(session: Session) -> dict[str, Any]:
        task = service.cancel_task(session, ctx.params["task_id"], actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="grid.verify.cancel",
                     target=task.ticket.number, ip=ctx.ip, details={"task": task.id})
        return service.task_view(session, task)

    return json_response(await _unit(ctx, cancel))


async def _all_tasks(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    open_only = ctx.query("open") in ("1", "true", "yes")
    return json_response(await _unit(ctx, lambda s: service.tasks(s, None,
                                                                  open_only=open_only)))


async def _my_log(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    day = ctx.query("day") or service.today()
    found = await _unit(ctx, lambda s: service.log_of(s, _worker(s, ctx), day[:10]))
    return json_response(found or {"day": day[:10], "text": "", "updated_at": None})


async def _write_log(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    request = load_log(body)

    def write(session: Session) -> dict[str, Any]:
        log = service.write_log(session, _worker(session, ctx), request)
        audit.record(session, actor=user.username, role=user.role, action="grid.log",
                     target=log.day, ip=ctx.ip)
        return {"day": log.day, "text": log.text, "updated_at": log.updated_at.isoformat()}

    try:
        return json_response(await _unit(ctx, write))
    except IntegrityError:  # two saves of a new day's log at once: the second updates
        return json_response(await _unit(ctx, write))


async def _day_logs(ctx: Ctx) -> Response:
    day = (ctx.query("day") or _plugin(ctx).service.today())[:10]
    return json_response(await _unit(ctx, day_logs, day))


# -- the map ------------------------------------------------------------------------------------

def _area_dict(row: maps.AreaRow, *, geometry: bool) -> dict[str, Any]:
    data = {"level": row.level.value, "label": LEVEL_LABELS[row.level], "code": row.code,
            "name": row.name, "parent": row.parent}
    if geometry:
        data["geometry"] = row.geometry
    return data


async def _areas(ctx: Ctx) -> Response:
    within = ctx.query("within") or None
    geometry = ctx.query("geometry") in ("1", "true", "yes")

    def read(session: Session) -> dict[str, Any]:
        info = maps.current_map(session)
        here = maps.area_of(session, within) if within else None
        return {"map": info.__dict__ if info else None,
                "area": _area_dict(here, geometry=geometry) if here else None,
                "children": [_area_dict(a, geometry=geometry)
                             for a in maps.children_of(session, within)]}

    return json_response(await _unit(ctx, read))


async def _locate(ctx: Ctx) -> Response:
    tickets = ctx.console.tickets
    lat, lon = ctx.query("latitude"), ctx.query("longitude")
    address = ctx.query("address")
    try:
        lat_f = float(lat) if lat else None
        lon_f = float(lon) if lon else None
    except ValueError:
        raise InvalidInput({"latitude": "latitude and longitude must be decimal numbers"}) \
            from None
    if (lat_f is None or lon_f is None) and not address:
        raise InvalidInput({"latitude": "give latitude and longitude, or an address"})

    def place(session: Session) -> dict[str, Any]:
        placed = tickets.locator.place(session, latitude=lat_f, longitude=lon_f,
                                       address=address)
        if placed is None:
            return {"found": False}
        area = maps.area_of(session, placed.code)
        grid = maps.area_of(session, area.parent) if area.parent and area.level.value == \
            "sub_grid" else area
        return {"found": True, "how": placed.how, "code": placed.code, "name": area.name,
                "level": area.level.value, "grid": grid.code, "grid_name": grid.name}

    return json_response(await _unit(ctx, place))


async def _export_map(ctx: Ctx) -> Response:
    data = await _unit(ctx, maps.export_map)
    resp = Response(200, json.dumps(data, ensure_ascii=False).encode(),
                    b"application/geo+json; charset=utf-8")
    resp.headers[b"Content-Disposition"] = b'attachment; filename="district-map.geojson"'
    return resp


async def _import_map(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user = ctx.user
    raw = ctx.request.content.read() if ctx.request.content else b""
    district = await threads.deferToThread(read_map, raw)

    def load(session: Session) -> dict[str, Any]:
        info = maps.import_map(session, district, actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="grid.map.import",
                     target=info.name[:100], ip=ctx.ip, details=info.counts)
        return info.__dict__

    return json_response(await _unit(ctx, load))


async def _export_addresses(ctx: Ctx) -> Response:
    text = await _unit(ctx, export_addresses)
    resp = Response(200, text.encode("utf-8"), b"text/csv; charset=utf-8")
    resp.headers[b"Content-Disposition"] = b'attachment; filename="grid-addresses.csv"'
    return resp


async def _import_addresses(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user = ctx.user
    raw = ctx.request.content.read() if ctx.request.content else b""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"body": "the address table must be UTF-8 CSV"}) from None

    def load(session: Session) -> dict[str, Any]:
        result = import_addresses(session, text)
        audit.record(session, actor=user.username, role=user.role,
                     action="grid.addresses.import", ip=ctx.ip, details=result.__dict__)
        return result.__dict__

    return json_response(await _unit(ctx, load))


# -- photos: only to whom may see the ticket ---------------------------------------------------

def _visible(session: Session, console: Any, user: Principal, ticket: Ticket | None) -> None:
    """Raise NoSuchTicket unless ``user`` may see ``ticket`` (a stranger learns nothing)."""
    if ticket is None:
        raise NoSuchTicket("?")
    if user.role == Role.GRID_WORKER:
        worker = worker_for_user(session, user.user_id)
        if worker is None or not may_see_ticket(session, worker, ticket):
            raise NoSuchTicket(ticket.id)
        return
    load_ticket(session, console, user, ticket.id)


def _photo_list(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    return [{"id": p.id, "url": f"/api/tickets/{ticket_id}/photos/{p.id}", "task": p.task_id,
             "width": p.width, "height": p.height, "taken_by": p.taken_by,
             "created_at": p.created_at.isoformat()}
            for p in session.scalars(select(TicketPhoto).where(TicketPhoto.ticket_id == ticket_id)
                                     .order_by(TicketPhoto.id))]


async def _photos(ctx: Ctx) -> Response:
    assert ctx.user is not None
    ticket_id = ctx.params["ticket_id"]

    def read(session: Session) -> list[dict[str, Any]]:
        _visible(session, ctx.console, ctx.user, session.get(Ticket, ticket_id))
        return _photo_list(session, ticket_id)

    return json_response(await _unit(ctx, read))


async def _photo(ctx: Ctx) -> Response:
    assert ctx.user is not None
    store = _plugin(ctx).service.photos

    def find(session: Session) -> str:
        ticket, photo = ticket_of_photo(session, ctx.params["photo_id"])
        if ticket is None or ticket.id != ctx.params["ticket_id"]:
            raise NoSuchTicket(ctx.params["ticket_id"])
        _visible(session, ctx.console, ctx.user, ticket)
        return photo.sha256

    sha = await _unit(ctx, find)
    try:
        body = await threads.deferToThread(store.read, sha)
    except FileNotFoundError:
        raise HTTPError(410, "photo-missing", "the photo file is missing from the photo "
                        "folder (restored from an older backup?)") from None
    await ctx.console.audit(ctx, "grid.photo", target=f"{ctx.params['ticket_id']}/"
                            f"{ctx.params['photo_id']}")
    resp = Response(200, body, b"image/jpeg")
    resp.headers[b"Cache-Control"] = b"private, no-store"
    return resp


def ticket_extras(session: Session, ticket_id: int) -> dict[str, Any]:
    """The photos and verification tasks of a ticket, for the ticket's page (the caller has
    already checked the ticket may be seen)."""
    from sqlalchemy import select

    from db.models import VerificationTask

    return {"photos": _photo_list(session, ticket_id),
            "tasks": [task_view(session, t) for t in session.scalars(
                select(VerificationTask).where(VerificationTask.ticket_id == ticket_id)
                .order_by(VerificationTask.id))]}


# -- the dispatcher's and the supervisor's pages -------------------------------------------------

async def _verify_page(ctx: Ctx) -> Response:
    service = _plugin(ctx).service
    tasks = await _unit(ctx, lambda s: service.tasks(s, None))
    await ctx.console.audit(ctx, "view", target="/grid/verify")
    return _render(ctx, "verify.html", tasks=tasks, results=RESULT_LABELS,
                   done=(ctx.query("done") or "")[:40], error=(ctx.query("error") or "")[:300],
                   number=(ctx.query("number") or "")[:40])


async def _verify_form(ctx: Ctx) -> Response:
    assert ctx.user is not None
    user, service = ctx.user, _plugin(ctx).service
    number = (ctx.form("number") or "").strip()[:40]
    note = (ctx.form("note") or "").strip()[:2000] or None

    def send(session: Session) -> str:
        ticket = service.tickets.get_by_number(session, number)
        task = service.send_task(session, ticket.id, actor=user.username, note=note)
        audit.record(session, actor=user.username, role=user.role, action="grid.verify",
                     target=ticket.number, ip=ctx.ip, details={"task": task.id})
        return ticket.number

    try:
        sent = await _unit(ctx, send)
    except (GridError, NoSuchTicket) as e:
        return redirect(f"/grid/verify?number={quote(number)}&error=" + quote(e.message))
    return redirect("/grid/verify?done=" + quote(sent))


async def _map_page(ctx: Ctx) -> Response:
    within = (ctx.query("within") or "")[:32] or None

    def read(session: Session) -> dict[str, Any]:
        return {"info": maps.current_map(session),
                "area": maps.area_of(session, within) if within else None,
                "children": maps.children_of(session, within)}

    data = await _unit(ctx, read)
    await ctx.console.audit(ctx, "view", target="/grid/map")
    return _render(ctx, "map.html", labels=LEVEL_LABELS, within=within,
                   can_import=ctx.user is not None and ctx.user.role in ADMIN, **data)


