"""Fixtures for the whole hotline on the real PBX: the controller and the city simulator's hands.

The controller is started per test (about a second) against the session's sandbox, so a test
that stops or breaks it harms no other. Agents a test logs in through the controller must be
logged out by that test: the controller puts logged-in agents back in the queue at every start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import defer, reactor

from db.models import Call
from hotline.ami.client import AMIClient
from hotline.controller import Controller
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from tests.support.waiting import until, until_true

__all__ = ["controller", "city", "final_call", "wait_final_call", "desk_phone_registered",
           "end_bridged_call"]


@pytest_twisted.async_yield_fixture
async def controller(pbx_sandbox: Sandbox):
    """A started Controller on the test sandbox; stopped after the test, even on failure."""
    ctl = Controller(config=pbx_sandbox.config, reactor=reactor)
    await ctl.start()
    try:
        yield ctl
    finally:
        await ctl.stop()


@pytest.fixture
def city(pbx_sandbox: Sandbox):
    """The city simulator (citizens, agent phones, municipal numbers), logged in over AMI."""
    creds = pbx_sandbox.secrets()["city_ami"]
    ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                    port=pbx_sandbox.config["city"]["ami_port"], reactor=reactor)
    ami.start()
    sim = CitySimulator(ami=ami, hotline_number=pbx_sandbox.config["site"]["hotline_number"])
    yield sim
    try:
        # A call a test left up (a citizen back in the queue, an agent's phone) would hold a
        # seat of this worker's sandbox busy for the next test: hang up whatever is left.
        d = defer.Deferred.fromCoroutine(_hang_up_everything(sim))
        left = pytest_twisted.blockon(d.addTimeout(15, reactor))
        if left:
            print(f"city: hung up {left} channel(s) a test left behind")
    except Exception as e:  # noqa: BLE001 - a city that went away has nothing to hang up
        print(f"city: could not clear the calls left behind: {e!r}")
    finally:
        pytest_twisted.blockon(ami.stop())


async def _hang_up_everything(sim: CitySimulator) -> int:
    """Hang up every city channel and wait until the city has none (a few seconds at most)."""
    left = await sim.hangup_all()
    if left:
        async def none_left() -> bool:
            reply = await sim.ami.action("CoreShowChannels")
            return not any(m.get("Event") == "CoreShowChannel" for m in reply)
        await until_true(none_left, timeout=10)
    return left


def final_call(db: Any, caller_number: str,
               extra: Callable[[Any], Any] | None = None) -> tuple[Call, Any] | None:
    """The newest finished call row from ``caller_number`` (detached), with ``extra(row)``."""
    with db.begin() as s:
        row = s.scalars(select(Call).where(Call.caller_number == caller_number)
                        .order_by(Call.id.desc())).first()
        if row is None or row.ended_at is None:
            return None
        more = extra(row) if extra else None
        s.expunge(row)
        return row, more


async def wait_final_call(db: Any, caller_number: str,
                          extra: Callable[[Any], Any] | None = None,
                          timeout: float = 40.0) -> tuple[Call, Any]:
    """Wait (without blocking the reactor) until the call from ``caller_number`` is final."""
    return await until(lambda: final_call(db, caller_number, extra), timeout=timeout, step=0.2)


async def desk_phone_registered(city: CitySimulator, controller: Controller, code: str) -> None:
    """Renew agent ``code``'s simulated desk phone registration and wait until the PBX has it.

    A browser phone test earlier in the run may have borrowed the seat: its registration took
    the AOR's one contact, and a desk phone re-registers by itself only when its own timer says.
    """
    await city.ami.when_ready()
    await city.ami.action("PJSIPRegister", Registration=f"phone-{code}")
    await until(lambda: controller.softphone.watcher.desk_online(code), timeout=15)


async def end_bridged_call(db: Any, city: CitySimulator, placed: Any, room: Any,
                           number: str) -> tuple[Call, Any]:
    """The citizen hangs up a bridged call: wait until its room has ended and its final row is
    written (``placed`` is what ``CitySimulator.call`` returned, ``room`` the bridge's room)."""
    await city.hangup(placed.channel_id)
    await room.ended_d
    return await wait_final_call(db, number)


def line_state(controller: Controller) -> str:
    """The calls and seats the controller sees, for a test's message when a wait times out."""
    calls = [(c.caller, c.state, c.agent_interface) for c in controller.tracker.calls.values()]
    agents = {i: (a.state, a.status, a.call_uniqueid)
              for i, a in controller.tracker.agents.items()}
    return f"calls {calls}; agents {agents}"
