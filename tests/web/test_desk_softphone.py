"""The desk with the browser as the agent's phone: registers from the console page, rings and
answers a citizen's call with audio, and sign-out gives the seat its desk phone back."""

from __future__ import annotations

import pytest
import pytest_twisted

from tests.softphone.conftest import browser  # noqa: F401 - Chromium with a fake microphone
from tests.support.hotline import wait_final_call
from tests.support.waiting import until
from tests.web.conftest import ensure_user
from tests.web.test_browser import _sign_in

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

PASSWORD = "desk-phone-pass-1"


def _endpoint(sandbox, code: str) -> str:
    return sandbox.cli("pbx", f"pjsip show endpoint agent-{code}")


async def desk_with_browser_phone(chromium, ctl, username: str, password: str):
    """A desk page signed in as ``username`` that made the browser its phone (registered)."""
    page = await chromium.page(f"http://127.0.0.1:{ctl.web.port}")
    await chromium.run(_sign_in, page, username, password)
    await chromium.run(page.goto, "/desk")
    await chromium.run(page.click, "#use-browser-phone")
    await chromium.run(lambda: page.wait_for_selector(
        ".softphone-state[data-state='registered']", timeout=15000))
    return page


@pytest_twisted.ensureDeferred
async def test_desk_browser_phone_answers_a_call_and_sign_out_restores_the_desk_phone(
        web_controller, city, browser, pbx_sandbox):  # noqa: F811 - the imported fixture
    ctl = web_controller
    code, number = "1003", "13812349931"
    ensure_user(ctl.db, "phone-agent", role="agent", password=PASSWORD, display_name="周敏",
                agent_code=code)
    page = await desk_with_browser_phone(browser, ctl, "phone-agent", PASSWORD)
    assert "transport-ws" in _endpoint(pbx_sandbox, code)
    await ctl.agents.login(code)
    try:
        await city.ami.when_ready()
        await city.call(number, tone="400", hold_s=30)
        # The page rings with the caller, the agent answers from the page.
        answer = page.locator("[data-softphone] button[data-action=answer]")
        await browser.run(lambda: answer.wait_for(state="visible", timeout=40000))
        await browser.run(answer.click)

        def talking():
            return [c for c in ctl.calls.live_calls()
                    if c["caller"] == number and c["state"] == "talking"]
        live = await until(talking, timeout=20)
        assert live[0]["agent"]["interface"] == f"PJSIP/agent-{code}"
        await browser.run(browser.shot, page, "desk-4-browser-phone")
        await ctl.ami.action("Hangup", Channel=live[0]["channel"], Cause="16")
        row, _ = await wait_final_call(ctl.db, number)
        assert row.status == "completed"
        # Sign out: the credentials are revoked and the seat's desk phone is back.
        await browser.run(page.click, "#logout")
        await until(lambda: "transport-ws" not in _endpoint(pbx_sandbox, code), timeout=10)
        assert code not in ctl.softphone.service.active
    finally:
        await ctl.agents.logout(code)
        await ctl.softphone.service.revoke_all()
