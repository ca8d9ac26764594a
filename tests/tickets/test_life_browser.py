"""A whole life of a ticket in headless Chromium, four people at once (four browser contexts),
on the real PBX: a simulated citizen calls; the agent files the ticket from the desk; the
dispatcher sees it pushed into the queue and dispatches it; the liaison sees it pushed into the
department's list, accepts it and replies with an attachment; the follow-up survey call reaches
the simulated citizen, who presses 2 (not satisfied); the ticket is back with the department
with a new, shorter deadline; the liaison replies again; the citizen presses 5; the ticket is
closed, both digits stored, and ``/reports/rates`` counts it. Screenshots of each screen under
``var/test-artifacts/web/life-*.png``."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Department, SchedulerState, SurveyResult, Ticket
from hotline.controller import Controller
from tests.scheduler.support import FAST
from tests.support.browser import Browser
from tests.support.hotline import wait_final_call
from tests.support.waiting import until
from tests.web.conftest import ensure_user, seed_directory

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

SEAT = "1003"
CITIZEN = "13712345601"
PASSWORDS = {"life-agent": "life-agent-pass-1", "life-disp": "life-disp-pass-1",
             "life-liaison": "life-liaison-pass-1", "life-boss": "life-boss-pass-1"}


@pytest_twisted.async_yield_fixture
async def life_controller(pbx_sandbox, tmp_path):
    """A controller on its own database with the scheduler on (test-sized times) and the
    follow-up by survey call; stopped after the test, even on failure."""
    cfg = pbx_sandbox.config.with_overrides({
        "database": {"url": f"sqlite:///{tmp_path / 'life.db'}"},
        "scheduler": dict(FAST, enabled=True),
        "tickets": {"follow_up": "survey"}})
    ctl = Controller(config=cfg, reactor=reactor)
    await ctl.start()
    try:
        seed_directory(ctl.db)
        await ctl.db.run(ctl.web.directory.refresh)
        yield ctl
    finally:
        await ctl.stop()


def _sign_in(page, username: str) -> str:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.click("#login-submit")
    page.wait_for_load_state("domcontentloaded")
    return page.url


def _live(page) -> None:
    page.wait_for_function("document.body.dataset.live === 'yes'", timeout=15000)


def _row(page, number: str, timeout: int = 30000) -> None:
    """Wait (pushed, no reload) until the worklist shows the ticket."""
    page.wait_for_selector(f"#worklist-body [data-ticket='{number}']", timeout=timeout)


def _step(page, button: str) -> str:
    page.click(button)
    page.wait_for_selector("#ticket-done", timeout=15000)
    return page.get_attribute("#ticket-done", "data-done")


def _state(db, number: str):
    with db.begin() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        return t.status, t.reopen_count, t.due_at, t.department.code if t.department else None


@pytest_twisted.ensureDeferred
async def test_a_whole_life_with_four_people_on_the_real_pbx(life_controller, city, browser,
                                                            tmp_path):
    """From the citizen's call to the closed ticket and the rates, through every screen."""
    ctl = life_controller
    db = ctl.db
    with db.begin() as s:
        dept = s.scalars(select(Department).order_by(Department.code)).first()
        dept_code, dept_name = dept.code, dept.name
    ensure_user(db, "life-agent", role="agent", password=PASSWORDS["life-agent"],
                display_name="坐席小李", agent_code=SEAT)
    ensure_user(db, "life-disp", role="dispatcher", password=PASSWORDS["life-disp"],
                display_name="派单员小周")
    ensure_user(db, "life-liaison", role="liaison", password=PASSWORDS["life-liaison"],
                display_name="联络员小吴", department=dept_code)
    ensure_user(db, "life-boss", role="supervisor", password=PASSWORDS["life-boss"])
    await until(lambda: ctl.scheduler.leading, timeout=15)
    await until(lambda: _watermark(db), timeout=15)
    base = f"http://127.0.0.1:{ctl.web.port}"
    agent, disp, liaison, boss = [await browser.page(base) for _ in range(4)]
    assert (await browser.run(_sign_in, agent, "life-agent")).endswith("/desk")
    assert (await browser.run(_sign_in, disp, "life-disp")).endswith("/dispatch")
    assert (await browser.run(_sign_in, liaison, "life-liaison")).endswith("/liaison")
    await browser.run(_sign_in, boss, "life-boss")
    await browser.run(_live, disp)
    await browser.run(_live, liaison)
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    await city.ami.when_ready()
    await city.set_agent(SEAT, delay_s=1.0, tone="1000")
    await city.set_number(CITIZEN, mode="answer", delay_s=0.3, dtmf="2")
    await browser.run(lambda: agent.wait_for_function(
        "document.getElementById('desk').dataset.live === 'yes'"))
    await browser.run(agent.click, "#queue-login")
    try:
        await browser.run(lambda: agent.wait_for_function(
            "document.getElementById('seat-state').dataset.state === 'free'", timeout=15000))
        # 1. The citizen calls; the agent files the ticket on the desk.
        placed = await city.call(CITIZEN, tone="400", hold_s=120)
        await browser.run(lambda: agent.wait_for_function(
            f"document.getElementById('caller-number').textContent === '{CITIZEN}'",
            timeout=40000))

        def file_ticket() -> str:
            agent.select_option("#f-kind", "complaint")
            agent.fill("#f-category", "供水")
            agent.fill("#f-address", "幸福路 8 号")
            agent.fill("#f-description", "自来水发黄已三天")
            agent.focus("#f-description")
            agent.keyboard.press("Control+Enter")
            agent.wait_for_function(
                "document.getElementById('ticket-message').dataset.ticket", timeout=15000)
            Browser.shot(agent, "life-1-desk-filed")
            return agent.evaluate("document.getElementById('ticket-message').dataset.ticket")
        number = await browser.run(file_ticket)
        await city.hangup(placed.channel_id)
        await wait_final_call(db, CITIZEN)
    finally:
        await ctl.agents.logout(SEAT)

    # 2. Pushed into the dispatcher's queue; dispatched from the ticket's page.
    await browser.run(_row, disp, number)
    await browser.run(Browser.shot, disp, "life-2-dispatch-queue")

    def dispatch() -> str:
        disp.click(f"#worklist-body [data-ticket='{number}'] a")
        disp.wait_for_selector("#form-dispatch")
        disp.select_option("#dispatch-department", dept_code)
        disp.fill("#form-dispatch textarea[name=instruction]", "请三个工作日内上门核查")
        done = _step(disp, "#do-dispatch")
        Browser.shot(disp, "life-3-dispatched")
        return done
    assert await browser.run(dispatch) == "dispatch"
    status, reopens, first_due, holder = _state(db, number)
    assert (status, reopens, holder) == ("dispatched", 0, dept_code)

    # 3. Pushed into the department's list; accepted; answered with a photo.
    await browser.run(_row, liaison, number)
    await browser.run(Browser.shot, liaison, "life-4-department-list")

    def accept_and_reply(text: str, with_file: bool) -> None:
        liaison.click(f"#worklist-body [data-ticket='{number}'] a")
        liaison.wait_for_selector("#do-accept")
        _step(liaison, "#do-accept")
        liaison.fill("#reply-text", text)
        if with_file:
            liaison.set_input_files("#reply-files", str(photo))
        _step(liaison, "#do-reply")
        Browser.shot(liaison, f"life-5-replied-{'first' if with_file else 'again'}")
        liaison.goto("/liaison")
        liaison.wait_for_function("document.body.dataset.live === 'yes'", timeout=15000)
    await browser.run(accept_and_reply, "已安排冲洗管网，水质已恢复", True)

    # 4. The follow-up call: the citizen presses 2 (not satisfied); the ticket is back with
    #    the department, pushed into its list, with a new and shorter deadline.
    await until(lambda: _state(db, number)[0] == "reopened", timeout=90)
    await browser.run(_row, liaison, number, 30000)
    await browser.run(Browser.shot, liaison, "life-6-reopened-in-department-list")
    status, reopens, second_due, holder = _state(db, number)
    assert (reopens, holder) == (1, dept_code)
    assert second_due - dt.datetime.now(dt.UTC) < first_due - dt.datetime.now(dt.UTC)

    # 5. Answered again; the citizen presses 5: closed.
    await city.set_number(CITIZEN, mode="answer", delay_s=0.3, dtmf="5")
    await browser.run(accept_and_reply, "已更换入户管道", False)
    await until(lambda: _state(db, number)[0] == "closed", timeout=90)
    with db.begin() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        scores = [r.score for r in s.scalars(select(SurveyResult).where(
            SurveyResult.ticket_id == ticket.id).order_by(SurveyResult.id))]
        trail = [e.action for e in ticket.events]
        attachments = [a.filename for a in ticket.attachments]
    assert scores == [2, 5]
    assert attachments == ["现场照片.png"]
    for step in ("intake", "dispatch", "accept", "reply", "survey", "reopen", "follow_up",
                 "close"):
        assert step in trail, (step, trail)

    # 6. The ticket's page and the rates, seen by the supervisor.
    def rates() -> dict[str, str]:
        boss.goto(f"/tickets/{ticket.id}")
        boss.wait_for_selector("#ticket-status[data-status='closed']")
        Browser.shot(boss, "life-7-ticket-closed")
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
        boss.goto(f"/reports/rates?from={today}&to={today}&department={dept_code}")
        row = boss.wait_for_selector(f"tr[data-code='{dept_code}']", timeout=15000)
        cells = [c.inner_text() for c in row.query_selector_all("td")]
        Browser.shot(boss, "life-8-rates")
        keys = ["department", "limit", "dispatched", "responded", "response_rate", "resolved",
                "resolution_rate", "surveyed", "satisfied", "satisfaction_rate", "reopened"]
        return dict(zip(keys, cells, strict=True))
    shown = await browser.run(rates)
    assert shown["department"].startswith(dept_code) and dept_name in shown["department"]
    assert (shown["dispatched"], shown["responded"], shown["resolved"]) == ("1", "1", "1")
    assert (shown["surveyed"], shown["satisfied"], shown["reopened"]) == ("2", "1", "1")


def _watermark(db) -> bool:
    with db.begin() as s:
        return s.get(SchedulerState, "survey.last_event_id") is not None
