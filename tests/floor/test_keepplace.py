"""Keep-my-place on the real PBX: three citizens wait, the second presses 1 and hangs up; the
stand-in holds the second place, and once an agent is free the three are served in the order
they arrived: the first on the line, the second called back, the third on the line."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import KeptPlace
from hotline.calls.events import CallAnswered
from tests.support.hotline import desk_phone_registered
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx

AGENT = "1002"
FIRST, SECOND, THIRD = "13812347001", "13812347002", "13812347003"


def _kept(db, number: str) -> KeptPlace | None:
    with db.begin() as s:
        row = s.scalars(select(KeptPlace).where(KeptPlace.caller_number == number)
                        .order_by(KeptPlace.id.desc())).first()
        if row is not None:
            s.expunge(row)
        return row


async def _queue(ami) -> list[tuple[int, str, str]]:
    status = await ami.action("QueueStatus", Queue="hotline")
    return sorted((int(m["Position"]), m.get("CallerIDNum", ""), m.get("Channel", ""))
                  for m in status if m.get("Event") == "QueueEntry")


@pytest_twisted.ensureDeferred
async def test_kept_place_is_called_back_in_arrival_order(controller, city):
    """The second caller's 1 ends their call and a stand-in takes exactly their place (between
    the first and the third); an agent logging in then answers the first, is connected to the
    second (dialled back: reached) and then answers the third."""
    ctl = controller
    answered: list[str] = []
    ctl.bus.subscribe(CallAnswered, lambda e: answered.append(
        ctl.tracker.calls[e.uniqueid].caller if e.uniqueid in ctl.tracker.calls else "?"))
    await desk_phone_registered(city, ctl, AGENT)
    await city.set_agent(AGENT, delay_s=0.5, tone="600")
    await city.set_number(SECOND, mode="answer", delay_s=1, tone="500")
    placed = []
    try:
        placed.append(await city.call(FIRST, tone="400", hold_s=120))
        await until(lambda: any(c.caller == FIRST and c.state.value == "waiting"
                                for c in ctl.tracker.calls.values()), timeout=30)
        placed.append(await city.call(SECOND, tone="420", dtmf="1", pause_s=4, hold_s=120))
        await until(lambda: any(c.caller == SECOND and c.state.value == "waiting"
                                for c in ctl.tracker.calls.values()), timeout=30)
        placed.append(await city.call(THIRD, tone="440", hold_s=120))
        row = await until(lambda: _kept(ctl.db, SECOND), timeout=30)
        assert row.status == "waiting" and row.position == 2
        entries = []

        async def settled() -> bool:
            entries[:] = await _queue(ctl.ami)
            return len(entries) == 3
        for _ in range(100):
            if await settled():
                break
            await sleep(0.2)
        assert [num for _pos, num, _ch in entries] == [FIRST, SECOND, THIRD], entries
        assert entries[1][2].startswith(f"Local/kp{row.uniqueid}@"), entries
        # The second citizen's own call is over: their place is kept without them.
        await until(lambda: not any(c.caller == SECOND and c.state.value != "ended"
                                    and not c.channel.startswith("Local/")
                                    for c in ctl.tracker.calls.values()), timeout=20)

        await ctl.agents.login(AGENT)
        for expected in (FIRST, SECOND, THIRD):
            await until(lambda n=expected: answered and answered[-1] == n, timeout=40)
            if expected == SECOND:
                reached = await until(lambda: (r := _kept(ctl.db, SECOND)) is not None
                                      and r.reached_at is not None and r, timeout=40)
                assert reached.agent_code == AGENT and reached.called_at is not None
            await sleep(1)
            await city.hangup_agent(AGENT)
            await until(lambda: ctl.tracker.agents[f"PJSIP/agent-{AGENT}"].state.value
                        in ("free", "ringing", "talking"), timeout=20)
    finally:
        await ctl.agents.logout(AGENT)
        for p in placed:
            try:
                await city.hangup(p.channel_id)
            except Exception:  # noqa: BLE001 - already gone
                pass
        # Whatever is left (a stand-in, a call back) must not keep the seat's phone busy.
        for row in [_kept(ctl.db, SECOND)]:
            if row is not None and row.status == "waiting":
                await ctl.floor.keep_place.cancel(row.uniqueid)
        await city.hangup_number(SECOND)
        await city.hangup_agent(AGENT)
        await city.set_agent(AGENT)
        await city.set_agent(AGENT)
    assert answered[:3] == [FIRST, SECOND, THIRD]
    done = await until(lambda: (r := _kept(ctl.db, SECOND)) is not None
                       and r.ended_at is not None and r, timeout=30)
    assert (done.status, done.outcome) == ("reached", "answer")
