"""The FastAGI server against the real Asterisk 22: the dialplan calls us and uses our answer."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from hotline.agi import variables as v
from hotline.agi.channel import AGIChannel
from hotline.agi.routes import RouteTable
from hotline.agi.server import listen
from hotline.ami.client import AMIClient
from hotline.ami.message import Message
from hotline.pbx.sandbox import Sandbox
from tests.support.pbx import ami_client
from tests.support.waiting import until

pytestmark = pytest.mark.pbx


@pytest.fixture
def agi_routes(pbx_sandbox: Sandbox):
    routes = RouteTable()
    cfg = pbx_sandbox.config["agi"]
    port = listen(reactor, routes=routes, bind="127.0.0.1", port=cfg["port"],
                  allow=["127.0.0.1"], script_timeout=2.0)
    yield routes
    pytest_twisted.blockon(port.stopListening())


@pytest.fixture
def amis(pbx_sandbox: Sandbox):
    pbx, city = ami_client(pbx_sandbox, "pbx"), ami_client(pbx_sandbox, "city")
    pbx.start()
    city.start()
    yield pbx, city
    pytest_twisted.blockon(pbx.stop())
    pytest_twisted.blockon(city.stop())


async def _call(city: AMIClient, caller: str, channel_id: str) -> None:
    await city.when_ready()
    await city.action("Originate", Channel="PJSIP/83658365@hotline", Application="Wait",
                      Data="12", CallerID=f"<{caller}>", Timeout="10000", Async="true",
                      ChannelId=channel_id)


@pytest_twisted.ensureDeferred
async def test_dialplan_uses_the_variable_our_script_set(pbx_sandbox, agi_routes, amis):
    """The inbound script's HOTLINE_CALL_ID is read back by the dialplan after AGI()."""
    pbx, city = amis
    seen_request = []

    @agi_routes.register("inbound")
    async def inbound(agi: AGIChannel) -> None:
        seen_request.append(agi.request)
        caller = await agi.get_variable("CALLERID(num)")
        await agi.set_variable(v.HOTLINE_CALL_ID, "4242")
        await agi.set_variable(v.HOTLINE_OPEN_TICKETS, "2" if caller == "13500000001" else "0")

    await pbx.when_ready()
    used: list[Message] = []
    pbx.subscribe("Newexten", lambda m: used.append(m)
                  if m.get("AppData", "").startswith("controller:") else None)
    await _call(city, "13500000001", "agi-it-1")
    await until(lambda: bool(used))
    assert used[0]["AppData"] == "controller: SUCCESS/OK call=4242"
    assert seen_request[0].script == "inbound"
    assert seen_request[0].callerid == "13500000001"
    await city.action("Hangup", Channel="agi-it-1")


@pytest_twisted.ensureDeferred
async def test_failing_script_lets_the_call_continue(pbx_sandbox, agi_routes, amis):
    """A script that raises is logged and the call still reaches the queue (fail open)."""
    pbx, city = amis

    @agi_routes.register("inbound")
    async def inbound(agi: AGIChannel) -> None:
        raise RuntimeError("database is on fire")

    await pbx.when_ready()
    joined: list[Message] = []
    status: list[Message] = []
    pbx.subscribe("QueueCallerJoin", lambda m: joined.append(m)
                  if m.get("CallerIDNum") == "13500000002" else None)
    pbx.subscribe("Newexten", lambda m: status.append(m)
                  if m.get("AppData", "").startswith("controller:") else None)
    await _call(city, "13500000002", "agi-it-2")
    await until(lambda: bool(joined))
    assert status[0]["AppData"].startswith("controller: SUCCESS/FAILED")
    await city.action("Hangup", Channel="agi-it-2")


@pytest_twisted.ensureDeferred
async def test_controller_down_call_still_reaches_queue(pbx_sandbox, amis):
    """With nothing listening for FastAGI, the dialplan goes on to the queue."""
    pbx, city = amis
    await pbx.when_ready()
    joined: list[Message] = []
    pbx.subscribe("QueueCallerJoin", lambda m: joined.append(m)
                  if m.get("CallerIDNum") == "13500000003" else None)
    await _call(city, "13500000003", "agi-it-3")
    await until(lambda: bool(joined))
    await city.action("Hangup", Channel="agi-it-3")
