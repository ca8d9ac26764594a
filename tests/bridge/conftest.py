"""Fixtures for bridging on the real PBX: the controller with the bridge attached, and a call
already talking between a simulated citizen and a simulated agent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest_twisted

from hotline.calls.model import CallState
from tests.support.hotline import desk_phone_registered, line_state
from tests.support.waiting import until

CITIZEN_HZ, AGENT_HZ, DEPARTMENT_HZ = 400, 1000, 1800


@pytest_twisted.async_yield_fixture
async def bridging(controller):
    """The started controller; its bridge service (``controller.bridge``) starts with it."""
    yield controller


@dataclass
class TalkingCall:
    """A citizen talking with an agent, as the controller's live view shows it."""

    call_id: int
    uniqueid: str
    caller: str
    agent: str
    city_channel: str


async def talking_call(controller, city, *, caller: str, agent: str,
                       hold_s: float = 90) -> TalkingCall:
    """Log ``agent`` in, place a citizen's call from ``caller`` and wait until they talk.

    The seat's desk phone is registered first: a browser phone test earlier on this worker may
    have held the seat, and the PBX would ring a browser that is gone."""
    await desk_phone_registered(city, controller, agent)
    await city.set_agent(agent, delay_s=0.3, tone=str(AGENT_HZ))
    await controller.agents.login(agent)
    placed = await city.call(caller, tone=str(CITIZEN_HZ), hold_s=hold_s)

    def talking():
        return [c for c in controller.tracker.calls.values()
                if c.caller == caller and c.state == CallState.TALKING and c.hotline_call_id]
    try:
        call = (await until(talking, timeout=40))[0]
    except TimeoutError as e:  # say what the line looked like instead
        raise TimeoutError(f"{e}: no talking call from {caller}; "
                           f"{line_state(controller)}") from None
    return TalkingCall(call_id=int(call.hotline_call_id), uniqueid=call.uniqueid,
                       caller=caller, agent=agent, city_channel=placed.channel_id)


def department_heard(sandbox, number: str) -> list[Path]:
    """What the simulated municipal number heard (only that, not its own voice), one file per
    answered leg: recorded on the city side, as the department's own recorder would."""
    folder = sandbox.host_path("/srv/hotline/city/recordings")
    return sorted(folder.glob(f"number-{number}-heardonly-*.wav"))
