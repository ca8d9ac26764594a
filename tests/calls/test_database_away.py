"""The database goes away while citizens are calling (PostgreSQL crashes, then comes back).

Nothing accepted is lost: the call that was talking when the database went, and a call that
came and went entirely while it was down, are both answered by an agent (the dialplan fails
open past the lookup it cannot make) and both get their final row, agent and recordings once
the database is back: the PBX's own summary (AstDB ``hotline-calls``) is kept until the row is
committed, and the controller's sweep writes it then. The controller itself stays up
throughout. A PostgreSQL cluster of its own, so no other test sees it crash."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from hotline.ami.actions import AMIError
from hotline.calls.model import CallState
from hotline.controller import Controller
from tests.support.database import postgres_cluster
from tests.support.hotline import desk_phone_registered, wait_final_call
from tests.support.waiting import sleep, until

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

AGENT = "1002"
CITIZEN_HZ, AGENT_HZ = 400, 1000


@pytest.fixture
def pg():
    with postgres_cluster() as server:
        server.admin("CREATE DATABASE hotline_away")
        yield server


@pytest_twisted.async_yield_fixture
async def ctl(pbx_sandbox, pg):
    ctl = Controller(config=pbx_sandbox.config.with_overrides({
        "database": {"url": pg.url("hotline_away")},
        "calls": {"reconcile_interval_s": 1.0}}), reactor=reactor)
    await ctl.start()
    try:
        yield ctl
    finally:
        await ctl.stop()


async def _summary_kept(ctl: Controller, uniqueid: str) -> bool:
    try:
        await ctl.ami.action("DBGet", Family="hotline-calls", Key=uniqueid)
    except AMIError:
        return False
    return True


def _extra(row):
    return sorted(r.direction for r in row.recordings), row.agent.code if row.agent else None


@pytest_twisted.ensureDeferred
async def test_calls_while_the_database_is_down_are_recorded_when_it_returns(ctl, pg, city):
    talking_number, later_number = "13812340081", "13812340082"
    await city.ami.when_ready()
    await city.set_agent(AGENT, delay_s=0.5, tone=str(AGENT_HZ))
    await desk_phone_registered(city, ctl, AGENT)
    await ctl.agents.login(AGENT)
    try:
        # The first citizen talks ~5 s; the second, placed meanwhile, waits for the agent, then talks.
        await city.call(talking_number, tone=str(CITIZEN_HZ), hold_s=6)

        def talking(number):
            return [c for c in ctl.calls.live_calls()
                    if c["caller"] == number and c["state"] == CallState.TALKING]
        first = (await until(lambda: talking(talking_number), timeout=30))[0]
        pg.down()
        # The first call ends while the database is down; a second comes and goes meanwhile.
        await city.call(later_number, tone=str(CITIZEN_HZ), hold_s=14)
        second = (await until(lambda: talking(later_number), timeout=40))[0]
        # This test's two calls (the session's PBX may hold another test's call meanwhile).
        await until(lambda: all(c["state"] == CallState.ENDED for c in ctl.calls.live_calls()
                                if c["caller"] in (talking_number, later_number)), timeout=40)
        await sleep(2)  # a few failed sweeps: the summaries must survive them
        for call in (first, second):
            assert await _summary_kept(ctl, call["uniqueid"]), call
        assert ctl.ami.ready  # the controller rode it out

        pg.up()
        for number in (talking_number, later_number):
            row, (directions, agent) = await wait_final_call(ctl.db, number, _extra, timeout=30)
            assert row.status == "completed" and agent == AGENT
            assert directions == ["agent", "citizen", "mix"]
        # Written, so the PBX's summaries are gone (the sweep deletes a key after its commit).
        for _ in range(50):
            if not [c for c in (first, second) if await _summary_kept(ctl, c["uniqueid"])]:
                break
            await sleep(0.2)
        for call in (first, second):
            assert not await _summary_kept(ctl, call["uniqueid"]), call
    finally:
        if pg.data_dir.exists() and not (pg.data_dir / "postmaster.pid").exists():
            pg.up()
        await ctl.agents.logout(AGENT)

