"""The live call state against the real Asterisk 22 of the PBX sandbox."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from tests.support.pbx import ami_client
from tests.support.waiting import until

pytestmark = pytest.mark.pbx

AGENT = "1001"
INTERFACE = f"PJSIP/agent-{AGENT}"


@pytest.fixture
def amis(pbx_sandbox: Sandbox):
    pbx, city = ami_client(pbx_sandbox, "pbx"), ami_client(pbx_sandbox, "city")
    yield pbx, city
    pytest_twisted.blockon(pbx.stop())
    pytest_twisted.blockon(city.stop())


@pytest_twisted.ensureDeferred
async def test_tracker_follows_a_call_to_an_agent_and_back(pbx_sandbox: Sandbox, amis):
    """A citizen's call is seen waiting, then talking with the agent, then ended, and removed."""
    pbx, city = amis
    tracker = CallTracker(ami=pbx, clock=reactor, queue_name="hotline", linger=1.0)
    tracker.subscribe()
    service = CallService(tracker=tracker)
    seen: list[tuple[str, str]] = []
    tracker.notifier.add_listener(
        lambda p: seen.append((p["call"]["caller"], p["call"]["state"])) if "call" in p else None)
    pbx.start()
    city.start()
    await pbx.when_ready()
    await city.when_ready()
    sim = CitySimulator(ami=city, hotline_number=pbx_sandbox.config["site"]["hotline_number"])
    await sim.set_agent(AGENT, delay_s=1.0)
    caller = "13912340001"
    try:
        await pbx.action("QueueAdd", Queue="hotline", Interface=INTERFACE,
                         MemberName=f"Agent {AGENT}")
        await until(lambda: INTERFACE in tracker.agents
                        and tracker.agents[INTERFACE].state.value in ("free", "unavailable"))
        await sim.call(caller, hold_s=5, tone="440")

        def states():
            return [s for c, s in seen if c == caller]

        await until(lambda: "waiting" in states(), timeout=20)
        await until(lambda: "talking" in states(), timeout=20)
        talking = [c for c in service.live_calls() if c["caller"] == caller][0]
        assert talking["agent"]["interface"] == INTERFACE
        assert talking["agent"]["channel"].startswith(INTERFACE + "-")
        assert tracker.agents[INTERFACE].state.value == "talking"
        await until(lambda: "ended" in states(), timeout=30)
        ended = [c for c in service.live_calls() if c["caller"] == caller][0]
        assert ended["hangup_cause"] is not None
        assert ended["hung_up_by"] in ("caller", "agent")
        assert service.wallboard()["answered"] >= 1
        await until(lambda: all(c["caller"] != caller for c in service.live_calls()),
                        timeout=5)
    finally:
        await pbx.action("QueueRemove", Queue="hotline", Interface=INTERFACE)
        tracker.stop()


@pytest_twisted.ensureDeferred
async def test_a_tracker_started_mid_call_finds_it_by_resync(pbx_sandbox: Sandbox, amis):
    """A tracker that logs in while a call is talking rebuilds it, agent included, by resync."""
    pbx, city = amis
    city.start()
    pbx.start()
    await city.when_ready()
    await pbx.when_ready()
    sim = CitySimulator(ami=city, hotline_number=pbx_sandbox.config["site"]["hotline_number"])
    await sim.set_agent(AGENT, delay_s=0.5)
    caller = "13912340002"
    late = ami_client(pbx_sandbox, "pbx")
    tracker = CallTracker(ami=late, clock=reactor, queue_name="hotline", linger=1.0)
    tracker.subscribe()
    try:
        await pbx.action("QueueAdd", Queue="hotline", Interface=INTERFACE,
                         MemberName=f"Agent {AGENT}")
        await sim.call(caller, hold_s=8, tone="440")

        connected = []
        pbx.subscribe("AgentConnect", connected.append)
        await until(lambda: connected, timeout=25)
        late.start()
        await late.when_ready()
        calls = [c for c in CallService(tracker=tracker).live_calls() if c["caller"] == caller]
        assert [c["state"] for c in calls] == ["talking"]
        assert calls[0]["queue"] == "hotline"
        assert calls[0]["agent"]["interface"] == INTERFACE
        assert tracker.agents[INTERFACE].state.value == "talking"
        uniqueid = calls[0]["uniqueid"]
        await until(lambda: tracker.calls[uniqueid].state.value == "ended", timeout=30)
    finally:
        await pbx.action("QueueRemove", Queue="hotline", Interface=INTERFACE)
        tracker.stop()
        await late.stop()
