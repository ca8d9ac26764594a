"""The grid workers' and the map's pages and API calls on a real console and database: roles,
CSRF, reports over multipart filed once per key, photos only to whom may see the ticket, the
verification round trip, the daily log, map and address import refused whole, the web app's
manifest and service worker."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest_twisted
from sqlalchemy import func, select
from urllib3 import encode_multipart_formdata

from db.models import Grid, MapImport, Ticket, TicketPhoto
from hotline.grid import maps
from tests.grid.conftest import PASSWORDS, WORKERS, inside
from tests.grid.support import collection, feature, square
from tests.grid.test_photos import jpeg
from tests.web.support import HTTP, sign_in


async def _signed_in(console, user: str) -> tuple[HTTP, str]:
    client = HTTP(console.port)
    password = WORKERS[user][0] if user in WORKERS else PASSWORDS[user]
    reply = await sign_in(client, user, password)
    assert reply.status == 303, reply.text
    me = await client.get("/api/grid/me" if user in WORKERS else "/api/me")
    return client, me.json()["csrf_token"]


async def _post_report(client: HTTP, csrf: str, *, key: str, lat: float, lon: float,
                       photos: list[bytes], **fields: str):
    parts: list[tuple[str, object]] = [
        ("key", key), ("made_at", dt.datetime.now(dt.UTC).isoformat()),
        ("category", "市容环境"), ("description", "路口垃圾堆放"),
        ("latitude", str(lat)), ("longitude", str(lon)), *fields.items()]
    parts += [("photo", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)]
    body, ctype = encode_multipart_formdata(parts)
    return await client.post("/api/grid/reports", body=body,
                             headers={"Content-Type": ctype, "X-CSRF-Token": csrf})


@pytest_twisted.ensureDeferred
async def test_roles_land_and_are_kept_apart(grid_console):
    """A grid worker signs in to /grid/; an agent cannot open it; a grid worker cannot send
    verification tasks, open the map page or read the desk's tickets."""
    worker = HTTP(grid_console.port)
    landed = await sign_in(worker, "wang", WORKERS["wang"][0])
    assert landed.headers["Location"] == "/grid/"
    page = await worker.get("/grid/")
    assert page.status == 200 and "王伟" in page.text and 'rel="manifest"' in page.text
    assert "示例地图（SAMPLE" in page.text
    assert "blob:" in page.headers["Content-Security-Policy"]
    for path in ("/grid/verify", "/grid/map", "/api/tickets", "/desk", "/reports"):
        assert (await worker.get(path)).status == 403, path
    agent, _ = await _signed_in(grid_console, "agent1")
    assert (await agent.get("/grid/")).status == 403
    assert (await agent.get("/api/grid/me")).status == 403


@pytest_twisted.ensureDeferred
async def test_report_is_filed_once_in_its_sub_grid_with_its_photo(grid_console, db):
    """A multipart report lands in the sub-grid holding its position with its photo; sending
    the same key again answers 200 with the same ticket; without the CSRF header it is
    refused and nothing is filed; a photo that is not an image is refused whole."""
    lat, lon = inside(db, "G001-03")
    client, csrf = await _signed_in(grid_console, "wang")
    key = str(uuid.uuid4())
    no_token = await _post_report(client, "", key=key, lat=lat, lon=lon, photos=[jpeg()])
    assert no_token.status == 403
    first = await _post_report(client, csrf, key=key, lat=lat, lon=lon, photos=[jpeg()])
    assert first.status == 201, first.text
    again = await _post_report(client, csrf, key=key, lat=lat, lon=lon, photos=[jpeg()])
    assert again.status == 200 and again.json()["number"] == first.json()["number"]
    bad = await _post_report(client, csrf, key=str(uuid.uuid4()), lat=lat, lon=lon,
                             photos=[b"not a photo"])
    assert bad.status == 400 and bad.json()["error_id"] == "photo-rejected"
    with db.begin() as s:
        tickets = list(s.scalars(select(Ticket)))
        assert len(tickets) == 1
        assert (tickets[0].channel, tickets[0].grid.code) == ("grid_worker", "G001-03")
        assert s.scalar(select(func.count()).select_from(TicketPhoto)) == 1
    listed = (await client.get("/api/grid/reports")).json()
    assert [r["ticket"] for r in listed] == [first.json()["number"]]


@pytest_twisted.ensureDeferred
async def test_photos_only_to_whom_may_see_the_ticket(grid_console, db):
    """The report's photo is served to its worker and to a supervisor, not to the worker of
    another grid nor to a liaison of a department the ticket is not dispatched to."""
    lat, lon = inside(db, "G001-01")
    wang, csrf = await _signed_in(grid_console, "wang")
    filed = (await _post_report(wang, csrf, key=str(uuid.uuid4()), lat=lat, lon=lon,
                                photos=[jpeg(640, 480)])).json()
    listing = await wang.get(f"/api/tickets/{filed['ticket_id']}/photos")
    url = listing.json()[0]["url"]
    mine = await wang.get(url)
    assert mine.status == 200 and mine.headers["Content-Type"] == "image/jpeg"
    assert mine.content[:3] == b"\xff\xd8\xff"
    boss, _ = await _signed_in(grid_console, "boss")
    assert (await boss.get(url)).content == mine.content
    li, _ = await _signed_in(grid_console, "li")
    assert (await li.get(url)).status == 404
    assert (await li.get(f"/api/tickets/{filed['ticket_id']}/photos")).status == 404
    assert (await li.get(url.replace(str(filed["ticket_id"]), "999999"))).status == 404


@pytest_twisted.ensureDeferred
async def test_verification_round_trip_over_the_api(grid_console, db):
    """A supervisor sends a ticket in G001 to verify; it is in wang's open tasks and not li's;
    wang's answer with a photo is on the task, on the ticket's page and in the list."""
    lat, lon = inside(db, "G001-02")
    with db.begin() as s:
        ticket = grid_console.tickets.intake(s, {
            "channel": "hotline", "kind": "complaint", "description": "井盖缺失",
            "phone": "13800138000", "latitude": lat, "longitude": lon}, actor="1001")
        ticket_id, number = ticket.id, ticket.number
    boss, boss_csrf = await _signed_in(grid_console, "boss")
    sent = await boss.post(f"/api/tickets/{ticket_id}/verify", json={"note": "请拍照核实"},
                           headers={"X-CSRF-Token": boss_csrf})
    assert sent.status == 201, sent.text
    task_id = sent.json()["id"]
    wang, csrf = await _signed_in(grid_console, "wang")
    li, _ = await _signed_in(grid_console, "li")
    assert [t["ticket"]["number"] for t in (await wang.get("/api/grid/tasks?open=1")).json()] \
        == [number]
    assert (await li.get("/api/grid/tasks?open=1")).json() == []
    body, ctype = encode_multipart_formdata([("key", str(uuid.uuid4())), ("result", "confirmed"),
                                             ("answer", "井盖确实缺失，已设围挡"),
                                             ("photo", ("a.jpg", jpeg(800, 600), "image/jpeg"))])
    answered = await wang.post(f"/api/grid/tasks/{task_id}/answer", body=body,
                               headers={"Content-Type": ctype, "X-CSRF-Token": csrf})
    assert answered.status == 201 and answered.json()["result"] == "confirmed"
    page = await boss.get(f"/tickets/{ticket_id}")
    assert "【核实反馈】属实：井盖确实缺失，已设围挡" in page.text and "现场照片" in page.text
    listed = (await boss.get("/api/grid/verifications")).json()
    assert listed[0]["status"] == "answered" and len(listed[0]["photos"]) == 1
    verify_page = await boss.get("/grid/verify")
    assert f'data-task="{task_id}"' in verify_page.text and "属实" in verify_page.text


@pytest_twisted.ensureDeferred
async def test_verify_form_says_why_it_cannot_send(grid_console):
    """The dispatcher's form names an unknown ticket number instead of failing silently."""
    boss, _ = await _signed_in(grid_console, "boss")
    page = await boss.get("/grid/verify")
    from tests.web.support import form_csrf

    reply = await boss.post("/grid/verify", form={"_csrf": form_csrf(page.text),
                                                  "number": "RX20990101-000001"})
    assert reply.status == 303 and "error=" in reply.headers["Location"]
    shown = await boss.get(reply.headers["Location"])
    assert "no ticket RX20990101-000001" in shown.text


@pytest_twisted.ensureDeferred
async def test_visit_and_daily_log(grid_console, db):
    """A visit is kept once per key in the worker's sub-grid; the daily log is written, read
    back and listed for supervisors."""
    lat, lon = inside(db, "G001-01")
    wang, csrf = await _signed_in(grid_console, "wang")
    visit = {"key": str(uuid.uuid4()), "subject": "key_person", "visitee": "张大爷",
             "notes": "身体好，无诉求", "latitude": lat, "longitude": lon}
    first = await wang.post("/api/grid/visits", json=visit, headers={"X-CSRF-Token": csrf})
    again = await wang.post("/api/grid/visits", json=visit, headers={"X-CSRF-Token": csrf})
    assert (first.status, again.status) == (201, 200) and first.json()["grid"] == "G001-01"
    log = await wang.request("PUT", "/api/grid/log", json={"text": "巡查 3 条道路"},
                             headers={"X-CSRF-Token": csrf})
    assert log.status == 200
    assert (await wang.get("/api/grid/log")).json()["text"] == "巡查 3 条道路"
    boss, _ = await _signed_in(grid_console, "boss")
    logs = (await boss.get(f"/api/grid/logs?day={log.json()['day']}")).json()
    assert [(g["worker"], g["grid"]) for g in logs] == [("王伟", "G001")]


@pytest_twisted.ensureDeferred
async def test_map_import_refused_whole_over_the_api(grid_console, db):
    """An admin's map with a self-intersecting grid, a duplicate code and a sub-grid outside
    its grid is refused naming all three; the map in force is unchanged. A supervisor may
    export but not import."""
    root, csrf = await _signed_in(grid_console, "root")
    bowtie = {"type": "Polygon", "coordinates": [[[1, 1], [2, 2], [2, 1], [1, 2], [1, 1]]]}
    text = collection([feature("street", "S1", None, square(0, 0, 10)),
                       feature("community", "C1", "S1", square(0, 0, 10)),
                       feature("grid", "A", "C1", bowtie),
                       feature("grid", "B", "C1", square(5, 5, 2)),
                       feature("grid", "B", "C1", square(7, 7, 1)),
                       feature("sub_grid", "B-01", "B", square(8, 8, 1))])
    with db.begin() as s:
        before = (s.scalar(select(func.count()).select_from(Grid)),
                  s.scalar(select(func.max(MapImport.id))))
    reply = await root.post("/api/grid/map", body=text.encode(),
                            headers={"Content-Type": "application/geo+json",
                                     "X-CSRF-Token": csrf})
    assert reply.status == 400 and reply.json()["error_id"] == "map-refused"
    kinds = [(p["code"], p["kind"]) for p in reply.json()["details"]["problems"]]
    assert ("A", "invalid-polygon") in kinds and ("B", "duplicate-code") in kinds and \
        ("B-01", "outside-parent") in kinds
    with db.begin() as s:
        assert (s.scalar(select(func.count()).select_from(Grid)),
                s.scalar(select(func.max(MapImport.id)))) == before
    boss, boss_csrf = await _signed_in(grid_console, "boss")
    exported = await boss.get("/api/grid/map")
    assert exported.status == 200 and len(json.loads(exported.text)["features"]) == 704
    assert (await boss.post("/api/grid/map", body=exported.content,
                            headers={"Content-Type": "application/geo+json",
                                     "X-CSRF-Token": boss_csrf})).status == 403
    again = await root.post("/api/grid/map", body=exported.content,
                            headers={"Content-Type": "application/geo+json",
                                     "X-CSRF-Token": csrf})
    assert again.status == 200 and again.json()["counts"]["sub_grid"] == 532


@pytest_twisted.ensureDeferred
async def test_areas_drill_down_and_locate(grid_console, db):
    """The areas call walks street → community → grid → sub-grid; locate names the sub-grid
    of a point and the grid it is in."""
    agent, _ = await _signed_in(grid_console, "agent1")
    top = (await agent.get("/api/grid/areas")).json()
    assert top["map"]["sample"] is True and len(top["children"]) == 7
    code = top["children"][0]["code"]
    for level in ("community", "grid", "sub_grid"):
        step = (await agent.get(f"/api/grid/areas?within={code}")).json()
        assert step["children"] and {c["level"] for c in step["children"]} == {level}
        code = step["children"][0]["code"]
    lat, lon = inside(db, "G042-02")
    placed = (await agent.get(f"/api/grid/locate?latitude={lat}&longitude={lon}")).json()
    assert (placed["code"], placed["grid"], placed["how"]) == ("G042-02", "G042", "point")
    assert (await agent.get("/api/grid/areas?within=NOPE")).status == 404


@pytest_twisted.ensureDeferred
async def test_desk_ticket_with_a_position_lands_in_its_sub_grid(grid_console, db):
    """A ticket the desk files with a position and no grid is placed in the sub-grid holding
    the point (the grid plugin gives the console's ticket service its locator)."""
    agent, csrf = await _signed_in(grid_console, "agent1")
    lat, lon = inside(db, "G042-02")
    filed = await agent.post("/api/tickets", json={
        "kind": "help", "description": "路灯不亮", "phone": "13800138000", "latitude": lat,
        "longitude": lon},
        headers={"X-CSRF-Token": csrf})
    assert filed.status == 201, filed.text
    assert (filed.json()["grid"], filed.json()["latitude"]) == ("G042-02", lat)


@pytest_twisted.ensureDeferred
async def test_installable_app_parts(grid_console):
    """The manifest names the app, its scope and icons; the service worker and icons are
    served with their types; the OpenAPI document lists the grid calls."""
    anyone = HTTP(grid_console.port)
    manifest = await anyone.get("/grid/manifest.webmanifest")
    data = manifest.json()
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    assert (data["start_url"], data["scope"], data["display"]) == ("/grid/", "/grid/",
                                                                   "standalone")
    for icon in data["icons"]:
        got = await anyone.get(icon["src"])
        assert got.status == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"
    worker = await anyone.get("/grid/sw.js")
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert "caches.open" in worker.text
    assert (await anyone.get("/grid/static/../../web/app.py")).status == 404
    paths = (await anyone.get("/api/openapi.json")).json()["paths"]
    assert {"/api/grid/reports", "/api/grid/tasks/{task_id}/answer", "/api/grid/map",
            "/api/tickets/{ticket_id}/verify"} <= set(paths)


@pytest_twisted.ensureDeferred
async def test_sample_map_is_said_to_be_sample(grid_console, db):
    """The map page says the map in force is the SAMPLE until a site's own replaces it."""
    boss, _ = await _signed_in(grid_console, "boss")
    page = await boss.get("/grid/map")
    assert 'id="map-sample"' in page.text and "示例地图（SAMPLE）" in page.text
    with db.begin() as s:
        assert maps.current_map(s).sample is True
