"""The ticket-life API and pages over HTTP against a served console (no PBX): steps, the 409
on two people acting at once, role refusals (403, audited), CSRF, attachments (size, type,
who may read), worklists, the pushed stream, and the pages' forms."""

from __future__ import annotations

import json
import threading

import pytest_twisted
from sqlalchemy import select

from db.models import AuditEntry, Ticket
from hotline.tickets.service import TicketService
from tests.support.waiting import until
from tests.tickets.conftest import LIFE_USERS
from tests.web.support import HTTP, EventReader, form_csrf, sign_in


async def signed_in(console, name: str) -> tuple[HTTP, str]:
    client = HTTP(console.port)
    reply = await sign_in(client, name, LIFE_USERS[name][3])
    assert reply.status == 303, reply.text
    return client, await client.csrf()


def new_ticket(db, kind: str = "complaint") -> int:
    with db.begin() as s:
        return TicketService().intake(s, {"channel": "hotline", "kind": kind,
                                          "phone": "13812345678", "description": "停水"},
                                      actor="agent1").id


async def post(client: HTTP, csrf: str, path: str, body: dict) -> tuple[int, dict]:
    reply = await client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    return reply.status, json.loads(reply.text) if reply.text else {}


@pytest_twisted.ensureDeferred
async def test_steps_over_the_api_and_the_worklists(life_console, db):
    """Dispatch, accept and reply over the JSON API; each list shows the ticket where it is
    with its light; the dispatcher sees the number masked, the liaison's stream is told."""
    t = new_ticket(db)
    disp, disp_csrf = await signed_in(life_console, "disp")
    water, water_csrf = await signed_in(life_console, "water")
    queue = (await disp.get("/api/worklists/dispatch")).json()["items"]
    assert [(i["id"], i["light"], i["citizen_phone"]) for i in queue] == [
        (t, "green", "138****5678")]
    stream = EventReader(life_console.port, water.cookies, "/api/tickets/stream").start()
    try:
        await until(lambda: stream.named("hello"), timeout=10)
        status, view = await post(disp, disp_csrf, f"/api/tickets/{t}/dispatch",
                                  {"department": "W01", "instruction": "请核实",
                                   "version": 1})
        assert status == 200 and view["status"] == "dispatched"
        pushed = await until(lambda: stream.named("ticket"), timeout=10)
        assert pushed[0]["number"] == view["number"] and pushed[0]["department"] == "W01"
        assert "citizen_phone" not in pushed[0]
    finally:
        stream.close()
    mine = (await water.get("/api/worklists/department")).json()
    assert [i["id"] for i in mine["items"]] == [t] and mine["department"]["code"] == "W01"
    status, view = await post(water, water_csrf, f"/api/tickets/{t}/accept", {})
    assert status == 200 and view["status"] == "handling"
    status, view = await post(water, water_csrf, f"/api/tickets/{t}/reply", {"text": "已修复"})
    assert status == 200 and view["status"] == "replied"
    agent, _ = await signed_in(life_console, "agent1")
    follow = (await agent.get("/api/worklists/follow-up")).json()["items"]
    assert [i["id"] for i in follow] == [t]
    assert (await water.get("/api/worklists/dispatch")).status == 403


@pytest_twisted.ensureDeferred
async def test_two_people_at_once_one_wins_the_other_gets_409(life_console, db):
    """Two supervisors dispatch the same version at the same moment: one 200, one 409 whose
    body carries the ticket as it now is; the loser's department is not applied."""
    t = new_ticket(db)
    a, a_csrf = await signed_in(life_console, "boss")
    b, b_csrf = await signed_in(life_console, "disp")
    barrier = threading.Barrier(2)
    replies: dict[str, object] = {}

    def fire(name: str, client: HTTP, csrf: str, dept: str) -> None:
        barrier.wait()
        replies[name] = client.request_blocking(
            "POST", f"/api/tickets/{t}/dispatch", json={"department": dept, "version": 1},
            headers={"X-CSRF-Token": csrf})
    threads = [threading.Thread(target=fire, args=("a", a, a_csrf, "W01")),
               threading.Thread(target=fire, args=("b", b, b_csrf, "P01"))]
    for th in threads:
        th.start()
    await until(lambda: len(replies) == 2, timeout=30)
    for th in threads:
        th.join(5)
    statuses = sorted(r.status for r in replies.values())
    assert statuses == [200, 409]
    loser = next(r for r in replies.values() if r.status == 409).json()
    winner = next(r for r in replies.values() if r.status == 200).json()
    assert loser["error_id"] == "ticket-changed"
    assert loser["details"]["ticket"]["department"] == winner["department"]
    assert loser["details"]["ticket"]["version"] == 2
    with db.begin() as s:
        assert s.get(Ticket, t).department.code == winner["department"]


@pytest_twisted.ensureDeferred
async def test_role_refusals_csrf_and_bad_input_over_http(life_console, db):
    """An agent may not dispatch (403, audited as denied); a post without the CSRF token is
    refused; an unknown department and a transition from the wrong status are clear 400/409
    errors; another department's liaison gets 404."""
    t = new_ticket(db)
    agent, agent_csrf = await signed_in(life_console, "agent1")
    status, body = await post(agent, agent_csrf, f"/api/tickets/{t}/dispatch",
                              {"department": "W01"})
    assert status == 403
    disp, disp_csrf = await signed_in(life_console, "disp")
    no_token = await disp.post(f"/api/tickets/{t}/dispatch", json={"department": "W01"})
    assert no_token.status == 403 and no_token.json()["error_id"] == "csrf-token-invalid"
    status, body = await post(disp, disp_csrf, f"/api/tickets/{t}/dispatch",
                              {"department": "NOPE"})
    assert status == 400 and body["error_id"] == "no-such-department"
    status, body = await post(agent, agent_csrf, f"/api/tickets/{t}/close", {})
    assert status == 409 and body["error_id"] == "illegal-transition"
    status, body = await post(disp, disp_csrf, f"/api/tickets/{t}/dispatch",
                              {"department": "W01"})
    assert status == 200
    power, power_csrf = await signed_in(life_console, "power")
    status, body = await post(power, power_csrf, f"/api/tickets/{t}/accept", {})
    assert status == 404
    water, water_csrf = await signed_in(life_console, "water")
    status, body = await post(water, water_csrf, f"/api/tickets/{t}/return", {"reason": ""})
    assert status == 400 and "reason" in body["details"]["fields"]
    with db.begin() as s:
        audit = [(e.actor, e.action, e.outcome) for e in s.scalars(select(AuditEntry))]
        assert s.get(Ticket, t).status == "dispatched"
    assert ("agent1", "access", "denied") in audit
    assert ("disp", "ticket.dispatch", "failed") in audit
    assert ("water", "ticket.return", "failed") in audit


@pytest_twisted.ensureDeferred
async def test_attachments_over_http(life_console, db):
    """An upload over the limit is refused 413 before anything is kept, an unaccepted type
    415; a kept file goes with the reply and is served to readers only."""
    t = new_ticket(db)
    disp, disp_csrf = await signed_in(life_console, "disp")
    await post(disp, disp_csrf, f"/api/tickets/{t}/dispatch", {"department": "W01"})
    water, water_csrf = await signed_in(life_console, "water")
    limit = life_console.config["tickets"]["attachment_max_bytes"]

    def upload(name: str, ctype: str, data: bytes):
        return _raw(water, f"/api/tickets/{t}/attachments?name={name}", ctype, data,
                    water_csrf)
    big = await _deferred(upload, "big.jpg", "image/jpeg", b"x" * (limit + 1))
    assert big.status == 413
    exe = await _deferred(upload, "run.exe", "application/x-msdownload", b"MZ")
    assert exe.status == 415
    ok = await _deferred(upload, "photo.png", "image/png", b"\x89PNG data")
    assert ok.status == 201
    attachment = ok.json()
    status, view = await post(water, water_csrf, f"/api/tickets/{t}/reply",
                              {"text": "见照片", "attachments": [attachment["id"]]})
    assert status == 200 and view["attachments"][0]["event_id"] is not None
    got = await water.get(attachment["url"])
    assert got.status == 200 and got.text == b"\x89PNG data".decode("utf-8", "replace")
    assert "attachment;" in got.headers["Content-Disposition"]
    power, _ = await signed_in(life_console, "power")
    assert (await power.get(attachment["url"])).status == 404


def _raw(client: HTTP, path: str, ctype: str, data: bytes, csrf: str):
    import http.client

    from tests.web.support import Reply

    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    try:
        conn.request("POST", path, body=data, headers={
            "Content-Type": ctype, "X-CSRF-Token": csrf,
            "Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())})
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


async def _deferred(fn, *args):
    from twisted.internet import threads

    return await threads.deferToThread(fn, *args)


@pytest_twisted.ensureDeferred
async def test_pages_show_the_steps_and_forms_post_them(life_console, db):
    """The dispatcher's page lists the ticket; its page offers 派单 with the departments; the
    form dispatches; the liaison's ticket page offers 签收/退单/回复; a stale form is refused
    with the current state shown; the supervisor's 督办 page has the calendar and duty forms."""
    t = new_ticket(db)
    disp, _ = await signed_in(life_console, "disp")
    queue = await disp.get("/dispatch")
    assert queue.status == 200 and 'data-light="green"' in queue.text
    page = await disp.get(f"/tickets/{t}")
    assert 'id="form-dispatch"' in page.text and "区水务局" in page.text
    csrf = form_csrf(page.text)
    done = await disp.post(f"/tickets/{t}/do/dispatch", form={
        "_csrf": csrf, "version": "1", "department": "W01", "instruction": "尽快"})
    assert done.status == 303 and done.headers["Location"].endswith("?done=dispatch")
    stale = await disp.post(f"/tickets/{t}/do/dispatch", form={
        "_csrf": csrf, "version": "1", "department": "P01"})
    assert "error=" in stale.headers["Location"]
    shown = await disp.get(stale.headers["Location"])
    assert "已被他人修改" in shown.text
    water, _ = await signed_in(life_console, "water")
    mine = await water.get(f"/tickets/{t}")
    for step in ("do-accept", "do-return", "do-reply"):
        assert f'id="{step}"' in mine.text
    assert 'id="do-dispatch"' not in mine.text
    boss, _ = await signed_in(life_console, "boss")
    supervise = await boss.get("/supervise")
    assert supervise.status == 200 and 'action="/supervise/calendar"' in supervise.text
    assert (await water.get("/supervise")).status == 403


@pytest_twisted.ensureDeferred
async def test_openapi_documents_every_step(life_console):
    """Every step, the decision, attachments, worklists, stream, calendar and duty numbers are
    in /api/openapi.json."""
    doc = (await HTTP(life_console.port).get("/api/openapi.json")).json()
    for path in ("/api/tickets/{ticket_id}/dispatch", "/api/tickets/{ticket_id}/accept",
                 "/api/tickets/{ticket_id}/return", "/api/tickets/{ticket_id}/extend",
                 "/api/tickets/{ticket_id}/reply", "/api/tickets/{ticket_id}/follow-up",
                 "/api/tickets/{ticket_id}/close", "/api/tickets/{ticket_id}/reopen",
                 "/api/tickets/{ticket_id}/edit", "/api/tickets/{ticket_id}/contact",
                 "/api/extensions/{extension_id}/decision",
                 "/api/tickets/{ticket_id}/attachments", "/api/attachments/{attachment_id}",
                 "/api/worklists/{name}", "/api/tickets/stream", "/api/calendar",
                 "/api/departments/{code}/duty"):
        assert path in doc["paths"], path
    assert "TicketLife" in doc["components"]["schemas"]
