"""The controller end to end on the real PBX: a citizen's call answered by a simulated agent."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Agent, Call
from hotline.ami.client import AMIClient
from hotline.controller import Controller
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from tests.support.audio import band_ratio
from tests.support.waiting import until

pytestmark = pytest.mark.pbx

CITIZEN_HZ, AGENT_HZ = 400, 1000


@pytest_twisted.async_yield_fixture
async def controller(pbx_sandbox: Sandbox):
    ctl = Controller(config=pbx_sandbox.config, reactor=reactor)
    await ctl.start()

    def add_agent(s):
        if not s.scalars(select(Agent).where(Agent.code == "1001")).first():
            s.add(Agent(code="1001", name="测试坐席"))
    await ctl.db.run(add_agent)
    yield ctl
    await ctl.stop()


@pytest.fixture
def city(pbx_sandbox: Sandbox):
    creds = pbx_sandbox.secrets()["city_ami"]
    ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                    port=pbx_sandbox.config["city"]["ami_port"], reactor=reactor)
    ami.start()
    yield CitySimulator(ami=ami, hotline_number="83658365")
    pytest_twisted.blockon(ami.stop())


@pytest_twisted.ensureDeferred
async def test_answered_call_has_row_and_per_direction_recordings(controller, city):
    """The call row is finalised with agent and times, and each side's file holds its voice."""
    await city.ami.when_ready()
    await city.set_agent("1001", delay_s=0.5, tone=str(AGENT_HZ))
    await controller.ami.action("QueueAdd", Queue="hotline", Interface="PJSIP/agent-1001",
                                MemberName="agent 1001")
    try:
        placed = await city.call("13812340001", tone=str(CITIZEN_HZ), hold_s=12)

        def final_call():
            with controller.db.begin() as s:
                row = s.scalars(select(Call).where(Call.caller_number == "13812340001")).first()
                if row is None or row.ended_at is None:
                    return None
                recs = [(r.direction, r.path, r.size_bytes) for r in row.recordings]
                s.expunge(row)
                return row, recs
        row, recordings = await until(final_call)
    finally:
        await controller.ami.action("QueueRemove", Queue="hotline",
                                    Interface="PJSIP/agent-1001")
    assert placed.caller == "13812340001"
    # The controller's live view followed the same call to its agent.
    assert controller.tracker.answered == 1
    assert row.status == "completed"
    assert row.answered_at is not None and row.queue_wait_s is not None
    assert row.agent_id is not None
    assert row.talk_s and row.talk_s > 1
    by_direction = {d: (p, size) for d, p, size in recordings}
    assert set(by_direction) == {"citizen", "agent", "mix"}
    assert all(size and size > 8000 for _p, size in by_direction.values())
    from pathlib import Path
    citizen, agent = Path(by_direction["citizen"][0]), Path(by_direction["agent"][0])
    assert band_ratio(citizen, CITIZEN_HZ, AGENT_HZ) > 20, "citizen file holds the agent"
    assert band_ratio(agent, AGENT_HZ, CITIZEN_HZ) > 20, "agent file holds the citizen"
