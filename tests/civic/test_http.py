"""Hearings and projects over the JSON API and the public pages of a served console (no PBX):
the whole of each flow over HTTP; the public pages and calls hold none of the linked
citizens' phone numbers (whole or masked), names or addresses; roles, CSRF and bad input are
refused, audited, and change nothing."""

from __future__ import annotations

import json

import pytest_twisted
from sqlalchemy import func, select

from db.models import AuditEntry, ProjectProposal
from hotline import phone
from tests.civic.conftest import CIVIC_USERS
from tests.civic.support import CITIZENS
from tests.web.support import HTTP, form_csrf, sign_in


async def signed_in(console, name: str) -> tuple[HTTP, str]:
    client = HTTP(console.port)
    reply = await sign_in(client, name, CIVIC_USERS[name][1])
    assert reply.status == 303, reply.text
    return client, form_csrf((await client.get("/civic")).text)


async def post(client: HTTP, csrf: str, path: str, body: dict) -> tuple[int, dict]:
    reply = await client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    return reply.status, json.loads(reply.text) if reply.text else {}


def personal_data() -> list[str]:
    """Every phone (whole and masked), name and address of the linked citizens."""
    out = []
    for number, name, address in CITIZENS:
        out += [number, phone.mask(number), name, address]
    return out


@pytest_twisted.ensureDeferred
async def test_flows_over_the_api_and_public_pages_hold_no_personal_data(civic_console, db):
    """A topic and a proposal from the courtyard's tickets and an application run their whole
    course over the API; every public page and call is then scanned for the citizens' phones,
    names and addresses and holds none, while the console's topic page lists the tickets."""
    console, numbers = civic_console
    boss, boss_csrf = await signed_in(console, "boss")
    status, topic = await post(boss, boss_csrf, "/api/civic/topics", {
        "title": "废弃院落改造", "category": "小区环境", "level": "community",
        "council": "幸福里社区议事会", "summary": "居民反映院落杂物堆积", "tickets": numbers})
    assert status == 201, topic
    tid = topic["id"]
    for step, body in (("notice", {"notice_days": 7, "meeting_place": "社区活动室",
                                   "meeting_at": "2026-12-20T19:30"}),
                       ("meeting", {"participants": "居民代表5人", "minutes": "讨论",
                                    "decisions": "改建口袋公园"}),
                       ("report", {"report": "已开工"})):
        status, topic = await post(boss, boss_csrf, f"/api/civic/topics/{tid}/{step}", body)
        assert status == 200, (step, topic)
    assert [t["told"] for t in topic["tickets"]] == ["reply+callback", "reply", "note+callback"]
    status, proposal = await post(boss, boss_csrf, "/api/civic/proposals", {
        "title": "院落改造", "category": "小区环境", "area": "幸福里社区", "summary": "清运铺装",
        "estimated_cost": 80000, "tickets": numbers})
    assert status == 201 and proposal["citizens"] == 3, proposal
    acme, acme_csrf = await signed_in(console, "acme")
    pid = proposal["id"]
    assert (await post(acme, acme_csrf, f"/api/civic/proposals/{pid}/claim", {}))[0] == 200
    assert (await post(acme, acme_csrf, f"/api/civic/proposals/{pid}/progress",
                       {"text": "清运完毕"}))[0] == 200
    assert (await post(acme, acme_csrf, f"/api/civic/proposals/{pid}/finish",
                       {"result": "已完工"}))[0] == 200
    hope, hope_csrf = await signed_in(console, "hope")
    status, application = await post(hope, hope_csrf, "/api/civic/applications", {
        "title": "孤独症儿童陪伴", "summary": "康复训练", "budget": 200000, "benefit": "40户"})
    assert status == 201, application
    aid = application["id"]
    chief, chief_csrf = await signed_in(console, "chief")
    assert (await post(chief, chief_csrf, f"/api/civic/applications/{aid}/review",
                       {"score": 90}))[0] == 200
    assert (await post(acme, acme_csrf, f"/api/civic/applications/{aid}/review",
                       {"score": 80}))[0] == 200
    assert (await post(boss, boss_csrf, f"/api/civic/applications/{aid}/decide",
                       {"approve": True, "subsidy_ratio": 60}))[0] == 200
    console_page = (await boss.get(f"/civic/topics/{tid}")).text
    assert all(n in console_page for n in numbers)
    public = HTTP(console.port)
    pages = [await public.get(path) for path in (
        "/public/civic", f"/public/civic/topics/{tid}", f"/public/civic/proposals/{pid}",
        f"/public/civic/applications/{aid}", "/api/public/civic",
        f"/api/public/civic/topics/{tid}", f"/api/public/civic/proposals/{pid}",
        f"/api/public/civic/applications/{aid}")]
    assert [p.status for p in pages] == [200] * 8
    assert "改建口袋公园" in pages[1].text and "60%" in pages[3].text
    for page in pages:
        found = [text for text in personal_data() if text in page.text]
        assert found == [], (page, found)
        assert not any(n in page.text for n in numbers)  # not even the ticket numbers


@pytest_twisted.ensureDeferred
async def test_refusals_are_audited_and_change_nothing(civic_console, db):
    """A second claim (409), an own-organisation review (403), a score of 101 (400), an
    organisation creating a proposal (403) and a post without the CSRF token (403) change
    nothing; each refusal of a step is in the audit log."""
    console, numbers = civic_console
    boss, boss_csrf = await signed_in(console, "boss")
    status, proposal = await post(boss, boss_csrf, "/api/civic/proposals", {
        "title": "院落改造", "category": "小区环境", "area": "幸福里社区", "summary": "清运铺装",
        "estimated_cost": 80000, "tickets": numbers})
    pid = proposal["id"]
    acme, acme_csrf = await signed_in(console, "acme")
    hope, hope_csrf = await signed_in(console, "hope")
    hope2, hope2_csrf = await signed_in(console, "hope2")
    assert (await post(acme, acme_csrf, f"/api/civic/proposals/{pid}/claim", {}))[0] == 200
    status, error = await post(hope, hope_csrf, f"/api/civic/proposals/{pid}/claim", {})
    assert status == 409 and error["error_id"] == "already-claimed"
    status, _ = await post(acme, acme_csrf, "/api/civic/proposals", {"title": "x"})
    assert status == 403
    status, application = await post(hope, hope_csrf, "/api/civic/applications", {
        "title": "垃圾分类", "summary": "入户宣传", "budget": 50000, "benefit": "3个小区"})
    aid = application["id"]
    status, error = await post(hope2, hope2_csrf, f"/api/civic/applications/{aid}/review",
                               {"score": 100})
    assert status == 403 and "本组织" in error["message"]
    status, error = await post(acme, acme_csrf, f"/api/civic/applications/{aid}/review",
                               {"score": 101})
    assert status == 400 and "score" in error["details"]["fields"]
    reply = await acme.post(f"/api/civic/applications/{aid}/review", json={"score": 50})
    assert reply.status == 403
    view = (await boss.get(f"/api/civic/applications/{aid}")).json()
    assert view["reviews"] == 0 and view["status"] == "submitted"
    with db.begin() as s:
        row = s.get(ProjectProposal, pid)
        assert (row.status, row.organisation.code) == ("claimed", "ACME")
        refused = s.scalars(select(AuditEntry.action).where(
            AuditEntry.outcome != "ok").order_by(AuditEntry.id)).all()
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "project.claim", AuditEntry.outcome == "ok")) == 1
    assert refused == ["project.claim", "access", "application.review", "application.review",
                       "csrf"]
