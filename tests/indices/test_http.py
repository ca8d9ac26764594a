"""The leader's page and the indices' and warnings' API calls on a real console and database:
roles, CSRF, the refresh raising the spiked warning and pushing it to supervisors' and
leaders' streams, turning it into a proactive task, and the calls in the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest_twisted
from sqlalchemy import select

from db.models import Ticket
from hotline.openapi import document
from tests.indices.conftest import LEADER
from tests.indices.seed import TZ, recompute
from tests.support.waiting import until
from tests.web.conftest import PASSWORDS
from tests.web.support import HTTP, EventReader, form_csrf, sign_in


async def _client(console, user: str, password: str) -> tuple[HTTP, str]:
    """A signed-in client and its CSRF token (from the logout form every page carries)."""
    client = HTTP(console.port)
    assert (await sign_in(client, user, password)).status == 303
    return client, form_csrf((await client.get("/leader")).text)


@pytest_twisted.ensureDeferred
async def test_leader_reads_but_does_not_act(leader_console):
    """A leader lands on /leader and reads the indices and warnings; may not refresh, turn a
    warning into a task or dismiss it; an agent may read none of it."""
    leader = HTTP(leader_console.port)
    landed = await sign_in(leader, *LEADER)
    assert landed.headers["Location"] == "/leader"
    page = await leader.get("/leader")
    assert page.status == 200 and "维度指数" in page.text and "综合指数 = 100" in page.text
    assert "转为未诉先办任务" not in page.text
    assert (await leader.get("/api/indices?by=street")).status == 200
    assert (await leader.get("/api/warnings")).status == 200
    csrf = form_csrf(page.text)
    for path in ("/api/indices/refresh", "/api/warnings/1/task", "/api/warnings/1/dismiss"):
        refused = await leader.post(path, headers={"X-CSRF-Token": csrf})
        assert refused.status == 403 and refused.json()["error_id"] != "csrf", path
    for path in ("/desk", "/api/tickets", "/supervise"):
        assert (await leader.get(path)).status == 403, path
    agent = HTTP(leader_console.port)
    assert (await sign_in(agent, "agent1", PASSWORDS["agent1"])).status == 303
    for path in ("/leader", "/api/indices", "/api/warnings"):
        assert (await agent.get(path)).status == 403, path


@pytest_twisted.ensureDeferred
async def test_refresh_raises_the_spike_pushes_it_and_it_becomes_a_task(leader_console, db):
    """A refresh folds the history and raises exactly the spiked warning; both the
    supervisor's and the leader's streams get it; the API's indices equal recomputation from
    the raw rows; the warning becomes one proactive ticket, only with the CSRF token."""
    boss, csrf = await _client(leader_console, "boss", PASSWORDS["boss"])
    leader, _ = await _client(leader_console, *LEADER)
    streams = [EventReader(leader_console.port, c.cookies, "/api/warnings/stream").start()
               for c in (boss, leader)]
    try:
        await until(lambda: all(s.named("hello") for s in streams), timeout=10)
        result = await boss.post("/api/indices/refresh", headers={"X-CSRF-Token": csrf})
        assert result.status == 200, result.text
        raised = result.json()["raised"]
        assert [(w["grid"], w["category"]) for w in raised] == [("G003", "供水")]
        await until(lambda: all(s.named("warning") for s in streams), timeout=10)
        assert [s.named("warning")[0]["id"] for s in streams] == [raised[0]["id"]] * 2
    finally:
        for s in streams:
            s.close()
    today = dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date()
    first = today - dt.timedelta(days=20)
    got = (await boss.get(f"/api/indices?by=grid&from={first}&to={today}")).json()
    with db.begin() as s:
        want = recompute(s, first, today, "grid")
    assert {r["code"]: {k: r[k] for k in want[r["code"]]} for r in got["rows"]} == want
    wid = raised[0]["id"]
    refused = await boss.post(f"/api/warnings/{wid}/task")
    assert refused.status == 403
    made = await boss.post(f"/api/warnings/{wid}/task", headers={"X-CSRF-Token": csrf})
    assert made.status == 201, made.text
    again = await boss.post(f"/api/warnings/{wid}/task", headers={"X-CSRF-Token": csrf})
    assert again.status == 409 and again.json()["error_id"] == "warning-handled"
    with db.begin() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.channel == "proactive"))
        assert (ticket.number, ticket.status, ticket.category) == (
            made.json()["number"], "received", "供水")
    listed = (await leader.get("/api/warnings?status=tasked")).json()["warnings"]
    assert [w["ticket"] for w in listed] == [made.json()["number"]]
    page = await leader.get("/leader")
    assert made.json()["number"] in page.text and "已转任务" in page.text


@pytest_twisted.ensureDeferred
async def test_bad_queries_change_nothing_and_say_why(leader_console):
    """An unknown dimension, a malformed day or an unknown status is a 400 naming it."""
    boss, _ = await _client(leader_console, "boss", PASSWORDS["boss"])
    for path, error in (("/api/indices?by=planet", "bad-index-query"),
                        ("/api/indices?from=yesterday", "bad-index-query"),
                        ("/api/indices/trend?grid=G999", "bad-index-query"),
                        ("/api/warnings?status=maybe", "bad-status")):
        reply = await boss.get(path)
        assert reply.status == 400 and reply.json()["error_id"] == error, path


def test_every_call_is_in_the_openapi_document():
    """The indices' and warnings' calls are described in /api/openapi.json."""
    paths = document()["paths"]
    for path in ("/api/indices", "/api/indices/trend", "/api/indices/refresh",
                 "/api/warnings", "/api/warnings/stream", "/api/warnings/{warning_id}/task",
                 "/api/warnings/{warning_id}/dismiss"):
        assert path in paths, path


@pytest_twisted.ensureDeferred
async def test_leader_inbox_lists_opens_and_downloads_the_daily_report(leader_console, db):
    """A stored daily report is in the leader's inbox (API and page), opens as its page and
    downloads as a PDF; a day without a report is a 404; an agent may not read the inbox."""
    from hotline.reports.daily import run_daily_report

    yesterday = (dt.datetime.now(zoneinfo.ZoneInfo(TZ)).date()
                 - dt.timedelta(days=1)).isoformat()
    settings = dict(leader_console.config["reports"])
    run_daily_report(db.unit_factory, settings, timezone=TZ, day=yesterday)
    leader = HTTP(leader_console.port)
    assert (await sign_in(leader, *LEADER)).status == 303
    inbox = (await leader.get("/api/daily-reports")).json()["reports"]
    assert [r["day"] for r in inbox] == [yesterday] and inbox[0]["tickets"] > 0
    page = await leader.get("/leader")
    assert f"/leader/daily/{yesterday}" in page.text
    stored = await leader.get(f"/leader/daily/{yesterday}")
    assert stored.status == 200 and "民情报告" in stored.text
    pdf = await leader.get(f"/api/daily-reports/{yesterday}/pdf")
    assert pdf.status == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert (await leader.get("/leader/daily/2001-01-01")).status == 404
    agent = HTTP(leader_console.port)
    assert (await sign_in(agent, "agent1", PASSWORDS["agent1"])).status == 303
    assert (await agent.get("/api/daily-reports")).status == 403
