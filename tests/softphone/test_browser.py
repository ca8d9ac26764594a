"""The softphone end to end: Debian's headless Chromium registers over SIP on a WebSocket to the
real PBX sandbox, a simulated citizen's queue call rings the page, the page answers, and audio
flows both ways (DTLS-SRTP); losing the browser's connection pauses the agent in the queue and
its return resumes them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Agent, AgentStateChange
from tests.softphone.conftest import BROWSER_HZ, CITIZEN_HZ
from tests.support.audio import band_ratio
from tests.support.hotline import wait_final_call
from tests.support.waiting import sleep, until, until_true

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

AGENT = "1004"

_INBOUND_AUDIO = """async () => {
  const pc = window.hotlineSoftphone.peerConnection();
  if (!pc) return null;
  const stats = await pc.getStats();
  let found = null;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      found = {energy: s.totalAudioEnergy || 0, level: s.audioLevel || 0,
               packets: s.packetsReceived || 0};
    }
  });
  return found;
}"""


_RECORD_STATES = """() => {
  window.softphoneStates = [];
  document.querySelector('[data-softphone]').addEventListener(
    'softphone-change', (e) => window.softphoneStates.push(e.detail.state));
}"""


async def _open_desk(browser, base_url: str):
    page = await browser.page(base_url)

    def go() -> None:
        page.context.add_cookies([{"name": "agent", "value": AGENT, "url": base_url}])
        page.goto("/")
        page.wait_for_selector(".softphone-state[data-state=registered]", timeout=15000)
    await browser.run(go)
    return page


async def _member(controller) -> dict:
    replies = await controller.ami.action("QueueStatus", Queue=controller.config["queue"]["name"])
    for m in replies:
        if m.name == "QueueMember" and m.get("Location") == f"PJSIP/agent-{AGENT}":
            return dict(paused=m.get("Paused") == "1", reason=m.get("PausedReason", ""))
    return {}


def _changes(session) -> list[tuple[str, str | None]]:
    agent = session.scalars(select(Agent).where(Agent.code == AGENT)).one()
    rows = session.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
                           .order_by(AgentStateChange.id))
    return [(r.state, r.reason) for r in rows]


async def _recorded(controller, *tail: tuple[str, str | None], last: bool = True) -> None:
    """Wait until the agent's recorded changes end with ``tail`` (with ``last=False``: hold
    it, in order, after the latest login). The queue is paused or resumed first and the change
    written after (AgentService.pause/resume), so on a busy machine the row can come a moment
    after the queue shows it."""
    want = list(tail)

    async def found() -> bool:
        changes = await controller.db.run(_changes)
        if last:
            return changes[-len(want):] == want
        since = changes[max((i for i, c in enumerate(changes) if c[0] == "login"), default=0):]
        return any(since[i:i + len(want)] == want for i in range(len(since)))
    try:
        await until_true(found, timeout=10)
    except TimeoutError:
        raise AssertionError(f"agent changes {await controller.db.run(_changes)}, expected "
                             f"{want} {'at the end' if last else 'since the login'}") from None


@pytest_twisted.ensureDeferred
async def test_page_registers_rings_answers_and_audio_flows_both_ways(
        controller, city, softphone, browser, pbx_sandbox):
    """The page registers with credentials issued for its session, rings with the caller's
    number, answers; the DTMF pad reaches the PBX, hold and mute toggle; the citizen hears the
    browser's microphone and the page hears the citizen."""
    phone, base_url = softphone
    await city.ami.when_ready()
    await controller.agents.login(AGENT)
    try:
        page = await _open_desk(browser, base_url)
        await until(lambda: phone.watcher.is_online(AGENT), timeout=5)
        placed = await city.call("13812345004", tone=str(CITIZEN_HZ), hold_s=30)

        def ring_and_answer() -> str:
            page.wait_for_selector(".softphone[data-call=ringing]", timeout=20000)
            caller = page.inner_text(".softphone-caller")
            page.click("button[data-action=answer]")
            page.wait_for_selector(".softphone[data-call=talking]", timeout=10000)
            return caller
        caller = await browser.run(ring_and_answer)
        assert "13812345004" in caller
        await sleep(5)
        heard = await browser.run(page.evaluate, _INBOUND_AUDIO)
        assert heard and heard["packets"] > 100, heard
        assert heard["energy"] > 0.01, f"the page received silence: {heard}"
        # The pad's digits reach the PBX on the agent's channel; hold and mute toggle.
        digits: list[str] = []
        sub = controller.ami.subscribe(
            "DTMFEnd", lambda e: digits.append(e.get("Digit"))
            if e.get("Channel", "").startswith(f"PJSIP/agent-{AGENT}-") else None)
        try:
            await browser.run(page.click, "button[data-dtmf='5']")
            await until(lambda: "5" in digits, timeout=5)
        finally:
            sub.unsubscribe()

        def hold_and_mute() -> None:
            page.click("button[data-action=hold]")
            page.wait_for_selector(".softphone[data-call=held]", timeout=5000)
            page.click("button[data-action=hold]")
            page.wait_for_selector(".softphone[data-call=talking]", timeout=5000)
            page.click("button[data-action=mute]")
            page.wait_for_selector("button[data-action=mute][aria-pressed=true]", timeout=2000)
            page.click("button[data-action=mute]")
            page.wait_for_selector("button[data-action=mute][aria-pressed=false]", timeout=2000)
        await browser.run(hold_and_mute)
        await browser.run(page.click, "button[data-action=hangup]")
        await browser.run(page.wait_for_selector, ".softphone[data-call=idle]")
        await wait_final_call(controller.db, "13812345004", lambda r: r.status)
    finally:
        await controller.agents.logout(AGENT)
    # The city records the citizen's channel: heard-ID.wav mixes both ways, the r() file
    # said-ID.wav holds what the channel read from the hotline, i.e. what reached the citizen.
    said_to_citizen = pbx_sandbox.host_path(
        f"/srv/hotline/city/recordings/said-{placed.channel_id}.wav")
    await until(lambda: said_to_citizen.exists() and said_to_citizen.stat().st_size > 16000)
    await sleep(0.5)
    assert band_ratio(said_to_citizen, BROWSER_HZ, CITIZEN_HZ) > 10, \
        "the citizen did not hear the browser's microphone"


@pytest_twisted.ensureDeferred
async def test_lost_connection_pauses_agent_and_return_resumes(
        controller, softphone, browser, pbx_sandbox):
    """Cutting the browser's WebSocket (its TCP connection reset, the page offline) pauses the
    agent in the queue with the reason "softphone offline"; back online, the page registers
    again by itself and the agent is rung again."""
    phone, base_url = softphone
    await controller.agents.login(AGENT)
    try:
        page = await _open_desk(browser, base_url)
        assert await _member(controller) == {"paused": False, "reason": ""}

        def cut() -> list[str]:
            page.evaluate(_RECORD_STATES)
            page.context.set_offline(True)
            port = pbx_sandbox.config["pbx"]["http_port"]
            subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(port)],
                           check=True, capture_output=True)
            page.wait_for_selector(".softphone-state[data-state=offline]", timeout=10000)
            return page.evaluate("() => window.softphoneStates")
        shown = await browser.run(cut)
        # The registration lost with the link must not make the page read "unregistered":
        # the agent is to see "offline" from the moment the link goes.
        assert shown[0] == "offline" and "unregistered" not in shown, shown
        assert await _member_soon(controller, paused=True, within_s=5), \
            "the agent is still rung with the browser gone"
        await _recorded(controller, ("pause", "softphone offline"))

        await browser.run(page.context.set_offline, False)
        await browser.run(page.wait_for_selector, ".softphone-state[data-state=registered]")
        await until(lambda: phone.watcher.is_online(AGENT), timeout=10)
        # What the PBX lists agrees with what the events said (the AMI-login resync).
        phone.watcher._contacts.clear()
        await phone.watcher.resync()
        assert phone.watcher.is_online(AGENT)
        assert await _member_soon(controller, paused=False, within_s=10), \
            "the agent stays paused with the browser back"
        await _recorded(controller, ("pause", "softphone offline"), ("unpause", None))
    finally:
        await controller.agents.logout(AGENT)


async def _member_soon(controller, *, paused: bool, within_s: float) -> bool:
    """Whether the queue shows the member paused/unpaused within the time (polled QueueStatus)."""
    for _ in range(int(within_s / 0.1)):
        if (await _member(controller)).get("paused") is paused:
            return True
        await sleep(0.1)
    return False


@pytest_twisted.ensureDeferred
async def test_revoked_credentials_are_renewed_by_the_page(controller, softphone, browser,
                                                           pbx_sandbox):
    """After its credentials are revoked (a controller restart revokes all), the page's next
    registration is refused; it fetches this session's new ones and registers again."""
    phone, base_url = softphone
    page = await _open_desk(browser, base_url)
    first = phone.service.active[AGENT].password
    await phone.service.revoke(AGENT)
    port = pbx_sandbox.config["pbx"]["http_port"]
    subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(port)], check=True,
                   capture_output=True)
    await until(lambda: AGENT in phone.service.active, timeout=20)
    await browser.run(page.wait_for_selector, ".softphone-state[data-state=registered]")
    assert phone.service.active[AGENT].password != first
    await until(lambda: phone.watcher.is_online(AGENT), timeout=10)


def _my_renderers() -> list[int]:
    """The renderer processes of this test's own Chromium (descendants of this process only)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                pass
    return found


@pytest_twisted.ensureDeferred
async def test_silently_dead_browser_is_paused_by_qualify_and_resumed(
        controller, softphone, browser):
    """A browser that stops answering without closing its connection (its page frozen: no FIN,
    no RST) is found by the PBX's OPTIONS and paused; when it answers again it is resumed."""
    phone, base_url = softphone
    await controller.agents.login(AGENT)
    try:
        await _open_desk(browser, base_url)
        await until(lambda: phone.watcher.is_online(AGENT), timeout=5)
        renderers = _my_renderers()
        assert renderers
        for pid in renderers:
            os.kill(pid, signal.SIGSTOP)
        try:
            assert await _member_soon(controller, paused=True, within_s=20), \
                "a frozen browser is still rung"
        finally:
            for pid in renderers:
                os.kill(pid, signal.SIGCONT)
        # The browser is back: its resume may already be recorded after the pause.
        await _recorded(controller, ("pause", "softphone offline"), last=False)
        assert await _member_soon(controller, paused=False, within_s=20), \
            "the browser answers again but the agent stays paused"
    finally:
        await controller.agents.logout(AGENT)
