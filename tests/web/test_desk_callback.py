"""The 回拨 button of 我的回拨 in headless Chromium on the real PBX: the agent presses it on a
callback not due yet, the row shows the attempt dialling, then its outcome, while the scheduler
rings the agent's simulated phone and then the citizen, who answers."""

from __future__ import annotations

import pytest
import pytest_twisted

from hotline.web import accounts
from tests.scheduler.support import callback_state, new_ticket, promise_in
from tests.scheduler.test_integration import make_harness  # noqa: F401 - the fixture
from tests.support.browser import Browser
from tests.support.waiting import until

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

CITIZEN = "13900000162"
PASSWORD = "desk-dial-pass-1"


@pytest_twisted.ensureDeferred
async def test_dial_button_shows_dialling_then_the_outcome(make_harness, browser):  # noqa: F811
    """Pressing 回拨 places that callback now: the row says it is dialling (button disabled),
    then "已接通市民 · 已回拨"; the callback is reached with one attempt."""
    h = await make_harness()
    await h.city.set_agent("1001", delay_s=0.5)
    await h.city.set_number(CITIZEN, mode="answer", delay_s=0.5)
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, CITIZEN), 3600))
    await h.write(lambda s: accounts.create_user(s, "desk-dialler", role="agent",
                                                 password=PASSWORD, agent_code="1001"))
    row = f"#callbacks li[data-id='{cb_id}']"
    page = await browser.page(f"http://127.0.0.1:{h.controller.web.port}")

    def press() -> tuple[str, bool]:
        page.goto("/login")
        page.fill("#username", "desk-dialler")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state("domcontentloaded")
        page.goto("/desk")
        page.wait_for_selector("#desk[data-live='yes']", timeout=15000)
        page.wait_for_selector(f"{row} .dial-btn:not([disabled])", timeout=10000)
        page.click(f"{row} .dial-btn")
        page.wait_for_function(
            f"document.querySelector(\"{row} .cb-state\").textContent.includes('正在回拨')",
            timeout=10000)
        Browser.shot(page, "desk-callback-dialling")
        return (page.inner_text(f"{row} .cb-state"),
                page.eval_on_selector(f"{row} .dial-btn", "b => b.disabled"))
    dialling, disabled = await browser.run(press)
    assert "正在回拨" in dialling and disabled

    def outcome() -> str:
        page.wait_for_selector(f"{row}[data-outcome='answered']", timeout=40000)
        Browser.shot(page, "desk-callback-answered")
        return page.inner_text(f"{row} .cb-state")
    text = await browser.run(outcome)
    assert text == "已接通市民 · 已回拨"
    cb, attempts, _ = await until(lambda: h.read(callback_state, cb_id), timeout=5)
    assert cb.status == "done" and cb.outcome == "reached"
    assert [a.outcome for a in attempts] == ["answered"]
    assert h.watch.count(f"number {CITIZEN}") == 1
