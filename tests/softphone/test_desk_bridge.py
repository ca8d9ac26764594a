"""The bridge controls on the browser's own call (issue 11): the desk's WebRTC phone answers a
citizen, the agent brings a department in with the 「三方」 button and leaves; citizen and
department go on talking without the agent, and the department heard the browser's microphone
while all three talked and only the citizen after the agent left."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Bridge, Call
from tests.softphone.conftest import BROWSER_HZ, CITIZEN_HZ
from tests.support.audio import read_samples, tone_power
from tests.support.hotline import end_bridged_call
from tests.support.waiting import sleep, until
from tests.web.conftest import ensure_user, web_controller  # noqa: F401 - the fixture
from tests.web.test_desk_softphone import desk_with_browser_phone

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

PASSWORD = "desk-bridge-pass-1"
DEPARTMENT_HZ = 1800
CONTROL_HZ = 2700  # nobody plays it: the floor the tones are measured against


def _heard(sandbox, number: str) -> set[Path]:
    """What the simulated municipal number heard (recorded on the city side), one file a leg."""
    folder = sandbox.host_path("/srv/hotline/city/recordings")
    return set(folder.glob(f"number-{number}-heardonly-*.wav"))


def _windows(path: Path) -> list[dict[int, float]]:
    samples, rate = read_samples(path)
    return [{f: tone_power(samples[i:i + rate], rate, f)
             for f in (CITIZEN_HZ, BROWSER_HZ, CONTROL_HZ)}
            for i in range(0, len(samples) - rate + 1, rate)]


def _has(window: dict[int, float], freq: int) -> bool:
    """The tone is there: well above the floor, and not a trace beside a loud other tone (the
    browser's tone reaches the room at a few per cent of the citizen's power; after the agent
    left it is gone to a millionth)."""
    loudest = max(window[CITIZEN_HZ], window[BROWSER_HZ])
    return window[freq] > 30 * (window[CONTROL_HZ] + 1.0) and window[freq] > 0.01 * loudest


@pytest_twisted.ensureDeferred
async def test_browser_call_bridged_to_a_department_then_the_agent_leaves(
        web_controller, city, browser, pbx_sandbox):  # noqa: F811 - the imported fixture
    """The page registers its phone, rings and answers; 「三方」 on a directory entry brings the
    department in (the bridge finds the WebRTC agent's channel, PJSIP/agent-1004-...); the
    panel shows it, 「离开通话」 hangs up the browser's leg while citizen and department stay in
    the room; the rows say agent left, department answered."""
    ctl = web_controller
    code, number = "1004", "13812349971"
    ensure_user(ctl.db, "phone-bridge-agent", role="agent", password=PASSWORD,
                display_name="吴磊", agent_code=code)
    entry = ctl.web.directory.search("zls")[1]
    before = _heard(pbx_sandbox, entry.number)
    await city.ami.when_ready()
    await city.set_number(entry.number, mode="answer", delay_s=1, tone=str(DEPARTMENT_HZ))
    page = await desk_with_browser_phone(browser, ctl, "phone-bridge-agent", PASSWORD)
    await ctl.agents.login(code)
    placed = None
    try:
        placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=90)
        answer = page.locator("[data-softphone] button[data-action=answer]")
        await browser.run(lambda: answer.wait_for(state="visible", timeout=40000))
        await browser.run(answer.click)
        # (This browser obeys the page's CSP: selectors, not evaluated predicates.)
        await browser.run(lambda: page.wait_for_selector("#call-state.talking", timeout=20000))
        call_id = await browser.run(page.input_value, "#f-call")
        live = ctl.tracker.calls[call_id]
        assert live.agent_channel.startswith(f"PJSIP/agent-{code}-"), live.agent_channel

        def bridge():
            page.fill("#dir-q", "zls")
            page.wait_for_selector("#dir-results[data-query=zls]")
            button = "#dir-results li:nth-child(2) .bridge-btn:not([disabled])"
            page.wait_for_selector(button)
            page.click(button)
            page.wait_for_selector(
                "#bridge-parties li[data-role=department][data-state=joined]", timeout=30000)
            return page.inner_text("#bridge-parties")
        parties = await browser.run(bridge)
        assert "坐席：在通话中" in parties and f"部门 {entry.number}：在通话中" in parties
        room = ctl.bridge.room_of(call_id)
        # The bridge service recognised the browser's channel as the agent's.
        assert room.joined_as.get("agent") == live.agent_channel and room.in_room("agent")
        await browser.run(browser.shot, page, "desk-7-browser-bridged")
        await sleep(5)  # three-way: the department hears citizen and browser

        def leave():
            page.click("#bridge-leave")
            page.wait_for_selector("#bridge-parties li[data-role=agent][data-state=left]",
                                   timeout=15000)
            # The agent's leg ends: the browser phone is free for the next call.
            page.wait_for_selector(".softphone[data-call=idle]", timeout=10000)
        await browser.run(leave)
        await browser.run(browser.shot, page, "desk-8-browser-left")
        await until(lambda: not room.in_room("agent"), timeout=10)
        await sleep(8)  # citizen and department alone (the room's mixing settles in ~2 s)
        assert room.in_room("citizen") and room.in_room("department") and not room.ended
        await end_bridged_call(ctl.db, city, placed, room, number)
    finally:
        await ctl.agents.logout(code)
        if placed is not None:
            await city.hangup_citizen(number)
        await ctl.softphone.service.revoke_all()

    def rows():
        with ctl.db.begin() as s:
            call = s.scalars(select(Call).where(Call.uniqueid == call_id)).one()
            bridges = s.scalars(select(Bridge).where(Bridge.call_id == call.id)).all()
            return [(b.agent_code, b.outcome, sorted(
                (p.role, p.number_dialled, p.outcome, p.channel if p.role == "agent" else None)
                for p in b.participants)) for b in bridges if b.ended_at and b.ticket_id]
    ((agent, outcome, parties),) = await until(rows, timeout=20)
    assert (agent, outcome) == (code, "answered")
    assert parties == [("agent", None, "left", live.agent_channel),
                       ("citizen", None, "left", None),
                       ("department", entry.number, "answered", None)]

    (heard,) = _heard(pbx_sandbox, entry.number) - before
    windows = _windows(heard)
    trace = "".join("B" if _has(w, CITIZEN_HZ) and _has(w, BROWSER_HZ) else
                    "c" if _has(w, CITIZEN_HZ) else "a" if _has(w, BROWSER_HZ) else "."
                    for w in windows)
    assert sum(_has(w, BROWSER_HZ) for w in windows) >= 2, f"never heard the browser: {trace}"
    tail = windows[-5:-1]
    assert all(_has(w, CITIZEN_HZ) for w in tail), f"citizen gone after the agent: {trace}"
    assert not any(_has(w, BROWSER_HZ) for w in tail), f"browser heard after leaving: {trace}"
