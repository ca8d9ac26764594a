"""Duplicates at intake in headless Chromium on the real PBX: the agent types a complaint about
the same grid and category as an open ticket, the desk shows that ticket, the agent attaches
the call; the ticket has two reporters; when it is replied the scheduler calls both citizens
back (counted at the city simulator's side). Screenshot under
``var/test-artifacts/web/duplicates-desk.png``."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Callback, Grid, TicketReporter
from hotline.controller import Controller
from hotline.tickets.service import TicketService
from tests.scheduler.support import FAST, CityWatch, ensure_agents
from tests.support.browser import Browser
from tests.support.waiting import until
from tests.web.conftest import ensure_user, seed_directory

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

SEAT = "1003"
FIRST, SECOND = "13712345611", "13712345612"
PASSWORD = "dup-agent-pass-1"


@pytest_twisted.async_yield_fixture
async def dup_controller(pbx_sandbox, tmp_path):
    """A controller on its own database with the scheduler on (test-sized times)."""
    cfg = pbx_sandbox.config.with_overrides({
        "database": {"url": f"sqlite:///{tmp_path / 'dup.db'}"},
        "scheduler": dict(FAST, enabled=True)})
    ctl = Controller(config=cfg, reactor=reactor)
    await ctl.start()
    try:
        seed_directory(ctl.db)
        yield ctl
    finally:
        await ctl.ami.action("QueueRemove", Queue="hotline", Interface=f"PJSIP/agent-{SEAT}")
        await ctl.stop()


@pytest_twisted.ensureDeferred
async def test_agent_attaches_the_call_and_both_reporters_are_called_back(
        dup_controller, city, browser):
    """The desk shows the open ticket of the same grid and category; attaching makes the
    caller its second reporter; the reply calls both citizens once each."""
    ctl = dup_controller
    db = ctl.db
    ensure_user(db, "dup-agent", role="agent", password=PASSWORD, agent_code=SEAT)

    def first_ticket(s) -> tuple[str, str]:
        ensure_agents(s, SEAT)
        grid = s.scalars(select(Grid.code).order_by(Grid.code)).first()
        t = TicketService().intake(s, {"channel": "hotline", "kind": "complaint", "grid": grid,
                                       "category": "供水", "phone": FIRST,
                                       "description": "胜利路自来水管爆裂，路面大量积水"},
                                   actor="1001")
        return t.number, grid
    number, grid = await db.run(first_ticket)
    base = f"http://127.0.0.1:{ctl.web.port}"
    page = await browser.page(base)

    def attach() -> str:
        page.goto("/login")
        page.fill("#username", "dup-agent")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state("domcontentloaded")
        page.fill("#f-phone", SECOND)
        page.fill("#f-grid", grid)
        page.fill("#f-category", "供水")
        page.fill("#f-description", "胜利路水管爆了，到处是水")
        button = f"#duplicates li[data-number='{number}'] button.attach-call"
        page.wait_for_selector(button, timeout=15000)
        Browser.shot(page, "duplicates-desk")
        page.click(button)
        page.wait_for_function(
            f"document.getElementById('ticket-message').dataset.ticket === '{number}'",
            timeout=15000)
        return page.text_content("#ticket-message")
    said = await browser.run(attach)
    assert "已并入工单" in said and "共同反映人 1 位" in said

    def reporters(s):
        return [r.citizen.phone for r in s.scalars(select(TicketReporter))]
    assert await db.run(reporters) == [SECOND]

    watch = CityWatch()
    city.ami.subscribe("Newchannel", watch.on_newchannel)
    await ctl.ami.action("QueueAdd", Queue="hotline", Interface=f"PJSIP/agent-{SEAT}",
                         MemberName=f"agent {SEAT}")
    await city.set_agent(SEAT, delay_s=0.3)
    for citizen in (FIRST, SECOND):
        await city.set_number(citizen, mode="answer", delay_s=0.3)
    await until(lambda: ctl.scheduler.leading, timeout=15)

    def reply(s) -> None:
        service = TicketService()
        service.reply(s, service.get_by_number(s, number).id, actor="water", text="已抢修")
    await db.run(reply)

    def called():
        with db.begin() as s:
            rows = [(c.citizen.phone, c.status, c.outcome)
                    for c in s.scalars(select(Callback).order_by(Callback.id))]
        return rows if rows and all(st in ("done", "failed") for _, st, _ in rows) else None
    rows = await until(called, timeout=120)
    assert rows == [(FIRST, "done", "reached"), (SECOND, "done", "reached")]
    assert (watch.count(f"number {FIRST}"), watch.count(f"number {SECOND}")) == (1, 1)
