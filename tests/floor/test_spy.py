"""Listening (监听), whispering (耳语) and barging in (强插) on the real PBX: a supervisor signs
in, asks the JSON API to listen to a live call from their seat's desk phone; what each party
heard is measured by tone bands in the city's recordings of every phone."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import AuditEntry
from tests.support.audio import read_samples, tone_power
from tests.support.hotline import desk_phone_registered
from tests.support.waiting import sleep, until
from tests.web.conftest import ensure_user, web_controller  # noqa: F401 - the fixture
from tests.web.support import HTTP, sign_in

CITIZEN_HZ, AGENT_HZ, SUPERVISOR_HZ, CONTROL_HZ = 400, 700, 1800, 2700
AGENT, SUPERVISOR_SEAT = "1001", "1004"
PASSWORD = "floor-supervisor-pass-1"


def _recordings(sandbox) -> Path:
    return sandbox.host_path("/srv/hotline/city/recordings")


def _windows(path: Path) -> list[dict[int, float]]:
    samples, rate = read_samples(path)
    return [{f: tone_power(samples[i:i + rate], rate, f)
             for f in (CITIZEN_HZ, AGENT_HZ, SUPERVISOR_HZ, CONTROL_HZ)}
            for i in range(0, len(samples) - rate + 1, rate)]


async def _windows_when_closed(path: Path) -> list[dict[int, float]]:
    """The file's windows once Asterisk has closed it (its header is written at hangup)."""
    def read():
        try:
            return _windows(path)
        except (OSError, EOFError, wave.Error):
            return None
    return await until(read, timeout=15)


def _has(window: dict[int, float], freq: int) -> bool:
    """The tone is there: well above the silent control band."""
    return window[freq] > 30 * (window[CONTROL_HZ] + 1.0)


def _trace(windows: list[dict[int, float]], freq: int) -> str:
    return "".join("x" if _has(w, freq) else "." for w in windows)


async def _talking(ctl, number: str):
    return await until(lambda: next((c for c in ctl.tracker.calls.values()
                                     if c.caller == number and c.state.value == "talking"),
                                    None), timeout=40)


async def _supervisor(ctl) -> HTTP:
    ensure_user(ctl.db, "floor-boss", role="supervisor", password=PASSWORD,
                display_name="赵班长", agent_code=SUPERVISOR_SEAT)
    client = HTTP(ctl.web.port)
    assert (await sign_in(client, "floor-boss", PASSWORD)).status in (302, 303)
    return client


@pytest_twisted.ensureDeferred
async def test_listen_then_barge_from_the_supervisors_desk_phone(
        web_controller, city, pbx_sandbox):  # noqa: F811 - the imported fixture
    """Listening: the supervisor's phone carries the citizen's tone while neither the citizen
    nor the agent hears the supervisor's; switched to barge during the same call, both hear
    it. Every step is in the audit log; the agent's view of the call holds no trace of it."""
    ctl = web_controller
    number = "13812346001"
    await desk_phone_registered(city, ctl, AGENT)
    await desk_phone_registered(city, ctl, SUPERVISOR_SEAT)
    await city.set_agent(AGENT, delay_s=0.5, tone=str(AGENT_HZ))
    await city.set_agent(SUPERVISOR_SEAT, delay_s=0.5, tone=str(SUPERVISOR_HZ))
    folder = _recordings(pbx_sandbox)
    before = set(folder.glob(f"agent-{SUPERVISOR_SEAT}-heard-*.wav"))
    client = await _supervisor(ctl)
    csrf = await client.csrf()
    await ctl.agents.login(AGENT)
    placed = None
    try:
        placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=90)
        call = await _talking(ctl, number)
        listed = (await client.get("/api/calls")).json()
        assert any(c["uniqueid"] == call.uniqueid for c in listed["calls"])
        reply = await client.post("/api/floor/spy", json={"call": call.uniqueid,
                                                           "mode": "listen"},
                                  headers={"X-CSRF-Token": csrf})
        assert reply.status == 201, reply.text
        session = reply.json()
        assert session["mode"] == "listen" and session["seat"] == SUPERVISOR_SEAT
        live = ctl.floor.spy.sessions[session["id"]]
        await until(lambda: live.state == "up", timeout=20)
        await sleep(6)  # listening
        switched = await client.post(f"/api/floor/spy/{session['id']}", json={"mode": "barge"},
                                     headers={"X-CSRF-Token": csrf})
        assert switched.status == 200 and switched.json()["mode"] == "barge", switched.text
        await sleep(6)  # barging
        # The agent's own view of the call (what the desk stream pushes) names no supervisor.
        assert "floor-boss" not in str(ctl.calls.live_calls())
        stopped = await client.request("DELETE", f"/api/floor/spy/{session['id']}",
                                       headers={"X-CSRF-Token": csrf})
        assert stopped.status == 200
        await until(lambda: session["id"] not in ctl.floor.spy.sessions, timeout=10)
        assert call.state.value == "talking"  # the call goes on without the supervisor
    finally:
        if placed is not None:
            await city.hangup(placed.channel_id)
        await ctl.agents.logout(AGENT)
        await city.hangup_agent(AGENT)
        await city.hangup_agent(SUPERVISOR_SEAT)
        await city.set_agent(AGENT)
        await city.set_agent(SUPERVISOR_SEAT)

    (supervisor_heard,) = set(folder.glob(f"agent-{SUPERVISOR_SEAT}-heard-*.wav")) - before
    citizen_heard = folder / f"heard-{placed.channel_id}.wav"
    sup = await _windows_when_closed(supervisor_heard)
    cit = await _windows_when_closed(citizen_heard)
    assert sum(_has(w, CITIZEN_HZ) for w in sup) >= 8, _trace(sup, CITIZEN_HZ)
    assert sum(_has(w, AGENT_HZ) for w in sup) >= 8, _trace(sup, AGENT_HZ)
    # The citizen heard the supervisor only in the barge half: never in its first windows
    # (greeting, queue, the listening half), then for several seconds.
    trace = _trace(cit, SUPERVISOR_HZ)
    first = trace.find("x")
    assert 3 <= trace.count("x") and first >= 5 and "." not in trace[:first].replace(".", ""), trace

    def audit_rows():
        with ctl.db.begin() as s:
            return [(e.action, e.outcome, e.details.get("mode")) for e in s.scalars(
                select(AuditEntry).where(AuditEntry.actor == "floor-boss",
                                         AuditEntry.action.like("spy.%"))
                .order_by(AuditEntry.id))]
    assert audit_rows()[-3:] == [("spy.start", "ok", "listen"), ("spy.switch", "ok", "barge"),
                                 ("spy.stop", "ok", None)]


@pytest_twisted.ensureDeferred
async def test_whisper_reaches_the_agent_only(web_controller, city, pbx_sandbox):  # noqa: F811
    """Whispering: the agent's phone carries the supervisor's tone, the citizen's does not."""
    ctl = web_controller
    number = "13812346002"
    await desk_phone_registered(city, ctl, AGENT)
    await desk_phone_registered(city, ctl, SUPERVISOR_SEAT)
    await city.set_agent(AGENT, delay_s=0.5, tone=str(AGENT_HZ))
    await city.set_agent(SUPERVISOR_SEAT, delay_s=0.5, tone=str(SUPERVISOR_HZ))
    folder = _recordings(pbx_sandbox)
    agent_before = set(folder.glob(f"agent-{AGENT}-heard-*.wav"))
    await ctl.agents.login(AGENT)
    placed = None
    try:
        placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=90)
        call = await _talking(ctl, number)
        session = await ctl.floor.spy.start(supervisor="floor-boss", seat=SUPERVISOR_SEAT,
                                            call=call.uniqueid, mode="whisper")
        await until(lambda: session.state == "up", timeout=20)
        await sleep(6)
    finally:
        if placed is not None:
            await city.hangup(placed.channel_id)
        await ctl.agents.logout(AGENT)
        await city.hangup_agent(AGENT)
        await city.hangup_agent(SUPERVISOR_SEAT)
        await city.set_agent(AGENT)
        await city.set_agent(SUPERVISOR_SEAT)
    (agent_heard,) = set(folder.glob(f"agent-{AGENT}-heard-*.wav")) - agent_before
    citizen_heard = folder / f"heard-{placed.channel_id}.wav"
    await until(lambda: session.state == "ended", timeout=15)
    agent_windows = await _windows_when_closed(agent_heard)
    citizen_windows = await _windows_when_closed(citizen_heard)
    assert sum(_has(w, SUPERVISOR_HZ) for w in agent_windows) >= 3, \
        _trace(agent_windows, SUPERVISOR_HZ)
    assert not any(_has(w, SUPERVISOR_HZ) for w in citizen_windows), \
        _trace(citizen_windows, SUPERVISOR_HZ)


def test_spy_modes_and_refusals_are_named():
    """A mode outside listen, whisper and barge is refused with a 400 naming the field."""
    from hotline.floor.spy import SpyError, _mode

    with pytest.raises(SpyError) as err:
        _mode("shout")
    assert err.value.status_code == 400 and err.value.error_id == "invalid-mode"


def _spy_application(replies, channel: str) -> str | None:
    """The application and its data running on ``channel`` (CoreShowChannels), e.g.
    ``ChanSpy PJSIP/agent-1001-00000003,qEdw``."""
    for m in replies if isinstance(replies, list) else []:
        if m.get("Event") == "CoreShowChannel" and m.get("Channel") == channel:
            return f"{m.get('Application')} {m.get('ApplicationData')}"
    return None


@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_listen_whisper_barge_on_the_supervisors_browser_phone(
        web_controller, city, browser, pbx_sandbox):  # noqa: F811 - the imported fixture
    """From the supervisor's browser phone (WebRTC, headless Chromium): 监听 rings the page,
    which answers, and its leg runs ChanSpy quietly; 耳语 and 强插 switch the same leg (whisper,
    then barge options) while the page stays in its call; nothing about it is pushed to the
    agent's desk, and start, both switches and the stop are audited."""
    from tests.softphone import page as desk_page
    from tests.softphone.conftest import _console_sessions

    ctl = web_controller
    number = "13812346003"
    phone = ctl.softphone
    port = desk_page.serve(phone, await ctl.db.run(_console_sessions, list(phone.service.agents)))
    base_url = f"http://127.0.0.1:{port.getHost().port}"
    pushed: list[tuple[str, str, str]] = []
    events = ctl.web.events
    plain_to_interface, plain_to_seat = events.to_interface, events.to_seat

    def to_interface(interface, event, data):
        pushed.append((str(interface), event, str(data)))
        return plain_to_interface(interface, event, data)

    def to_seat(seat, event, data):
        pushed.append((f"seat {seat}", event, str(data)))
        return plain_to_seat(seat, event, data)
    events.to_interface, events.to_seat = to_interface, to_seat
    spy_starts: list[str] = []
    sub = ctl.ami.subscribe("ChanSpyStart", lambda e: spy_starts.append(
        str(e.get("SpyerChannel") or "")))
    await desk_phone_registered(city, ctl, AGENT)
    await city.set_agent(AGENT, delay_s=0.5, tone=str(AGENT_HZ))
    placed = None
    try:
        page = await browser.page(base_url)

        def open_desk() -> None:
            page.context.add_cookies([{"name": "agent", "value": SUPERVISOR_SEAT,
                                       "url": base_url}])
            page.goto("/")
            page.wait_for_selector(".softphone-state[data-state=registered]", timeout=15000)
        await browser.run(open_desk)
        await until(lambda: phone.watcher.is_online(SUPERVISOR_SEAT), timeout=10)
        client = await _supervisor(ctl)
        csrf = await client.csrf()
        await ctl.agents.login(AGENT)
        placed = await city.call(number, tone=str(CITIZEN_HZ), hold_s=90)
        call = await _talking(ctl, number)
        reply = await client.post("/api/floor/spy", json={"call": call.uniqueid,
                                                           "mode": "listen"},
                                  headers={"X-CSRF-Token": csrf})
        assert reply.status == 201, reply.text
        session_id = reply.json()["id"]

        def answer() -> None:
            page.wait_for_selector(".softphone[data-call=ringing]", timeout=20000)
            page.click("button[data-action=answer]")
            page.wait_for_selector(".softphone[data-call=talking]", timeout=10000)
        await browser.run(answer)
        live = ctl.floor.spy.sessions[session_id]
        await until(lambda: live.state == "up", timeout=20)
        assert live.channel.startswith(f"PJSIP/agent-{SUPERVISOR_SEAT}-")
        applications = []
        for mode, options in (("listen", ",qEd"), ("whisper", ",qEdw"), ("barge", ",qEdB")):
            if mode != "listen":
                switched = await client.post(f"/api/floor/spy/{session_id}",
                                             json={"mode": mode},
                                             headers={"X-CSRF-Token": csrf})
                assert switched.status == 200 and switched.json()["mode"] == mode, switched.text
            running = None
            for _ in range(50):  # the PBX shows the leg's ChanSpy, started anew on a switch
                running = _spy_application(await ctl.ami.action("CoreShowChannels"),
                                           live.channel)
                if running and running.endswith(options) and live.channel in spy_starts:
                    break
                await sleep(0.2)
            applications.append((running, live.channel in spy_starts))
            assert await browser.run(page.get_attribute, ".softphone", "data-call") == "talking"
            spy_starts.clear()
        assert applications == [(f"ChanSpy {call.agent_channel}{o}", True)
                                for o in (",qEd", ",qEdw", ",qEdB")], applications
        stopped = await client.request("DELETE", f"/api/floor/spy/{session_id}",
                                       headers={"X-CSRF-Token": csrf})
        assert stopped.status == 200
        await browser.run(page.wait_for_selector, ".softphone[data-call=idle]")
        assert call.state.value == "talking"  # the call goes on without the supervisor
    finally:
        sub.unsubscribe()
        events.to_interface, events.to_seat = plain_to_interface, plain_to_seat
        if placed is not None:
            await city.hangup(placed.channel_id)
        await ctl.agents.logout(AGENT)
        await city.hangup_agent(AGENT)
        await city.set_agent(AGENT)
        await port.stopListening()
        await phone.service.revoke_all()
    to_agent = [p for p in pushed if p[0] in (f"PJSIP/agent-{AGENT}", f"seat {AGENT}")]
    assert to_agent, "the agent's desk events were not observed"  # the call's own pushes
    assert not [p for p in to_agent if session_id in p[2] or "spy" in p[1]
                or SUPERVISOR_SEAT in p[2] or "floor-boss" in p[2]], to_agent

    def audit_rows():
        with ctl.db.begin() as s:
            return [(e.action, e.outcome, e.details.get("mode"), e.details.get("session"))
                    for e in s.scalars(select(AuditEntry).where(
                        AuditEntry.actor == "floor-boss", AuditEntry.action.like("spy.%"))
                        .order_by(AuditEntry.id))]
    assert audit_rows()[-4:] == [("spy.start", "ok", "listen", session_id),
                                 ("spy.switch", "ok", "whisper", session_id),
                                 ("spy.switch", "ok", "barge", session_id),
                                 ("spy.stop", "ok", None, session_id)]
