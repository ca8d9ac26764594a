"""A seat given back by the browser while its desk phone has no registration: on the real PBX,
the agent is paused (calls go to others, not to a phone that cannot ring) and resumed the
moment the desk phone registers again.

The browser's own registration is what removes the desk phone's contact in production (one
contact per AOR); here the simulated desk phone unregisters instead, so no browser is needed
to bring the seat to that state. ``tests/web/test_desk_softphone.py`` signs out a real browser."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Agent, AgentStateChange
from hotline.softphone.watcher import DESK_OFFLINE_REASON
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx

CODE = "1002"


async def _state(ctl) -> tuple[str, str | None]:
    status = next(s for s in await ctl.agents.status() if s.code == CODE)
    return status.state, status.reason


async def _wait_state(ctl, expected: tuple[str, str | None], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.1)):
        if await _state(ctl) == expected:
            return
        await sleep(0.1)
    assert await _state(ctl) == expected


@pytest_twisted.ensureDeferred
async def test_released_seat_without_desk_phone_pauses_then_resumes(controller, city):
    ctl, watcher = controller, controller.softphone.watcher
    await city.ami.when_ready()
    await until(lambda: watcher.desk_online(CODE), timeout=15)
    await ctl.agents.login(CODE)
    try:
        # (Unregistered first: once issued, the seat's auth is the browser's, not the desk's.)
        await city.ami.action("PJSIPUnregister", Registration=f"phone-{CODE}")
        await until(lambda: not watcher.desk_online(CODE), timeout=10)
        await ctl.softphone.service.issue(CODE)
        await ctl.softphone.service.revoke(CODE)
        await _wait_state(ctl, ("paused", DESK_OFFLINE_REASON))
        # The PBX's queue agrees: the member is paused with that reason.
        members = await ctl.ami.action("QueueStatus", Queue=ctl.config["queue"]["name"])
        member = next(m for m in members if m.get("Event") == "QueueMember"
                      and m.get("StateInterface", m.get("Location", "")).endswith(CODE))
        assert member["Paused"] == "1" and member.get("PausedReason") == DESK_OFFLINE_REASON

        await city.ami.action("PJSIPRegister", Registration=f"phone-{CODE}")
        await until(lambda: watcher.desk_online(CODE), timeout=10)

        await _wait_state(ctl, ("available", None))

        def changes(session):
            rows = session.scalars(select(AgentStateChange).join(Agent).where(
                Agent.code == CODE).order_by(AgentStateChange.id)).all()
            return [(r.state, r.reason) for r in rows[-2:]]
        assert await ctl.db.run(changes) == [("pause", DESK_OFFLINE_REASON), ("unpause", None)]
    finally:
        await city.ami.action("PJSIPRegister", Registration=f"phone-{CODE}")
        await ctl.softphone.service.revoke_all()
        await ctl.agents.logout(CODE)
