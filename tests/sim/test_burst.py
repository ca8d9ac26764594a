"""200 citizens in 10 s into the full flow: every call has exactly one row, none is lost."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import reactor

from db.models import Call
from hotline.calls.reconciler import FAMILY
from hotline.sim.burst import burst_numbers, place_burst
from tests.support.waiting import sleep, until

AGENTS = ("1001", "1002", "1003", "1004")


def test_burst_numbers_are_distinct_and_valid():
    numbers = burst_numbers(200)
    assert len(set(numbers)) == 200 and all(len(n) == 11 for n in numbers)
    with pytest.raises(ValueError):
        burst_numbers(20, prefix="1390000000")


@pytest_twisted.ensureDeferred
async def test_burst_of_200_calls_leaves_200_rows(controller, city):
    numbers = burst_numbers(200, prefix="1391")
    await city.ami.when_ready()
    for code in AGENTS:
        await city.set_agent(code, delay_s=0.5, tone="1000")
        await controller.agents.login(code)
    try:
        # Citizens hang up 14 s after the PBX answers: a few reach agents, most give up in the
        # queue; both kinds must be recorded exactly once.
        await place_burst(city, reactor, numbers, per_second=20, hold_s=14, tone="400")

        def finished() -> int:
            with controller.db.begin() as s:
                return s.scalar(select(func.count()).select_from(Call).where(
                    Call.caller_number.in_(numbers), Call.ended_at.is_not(None)))
        await until(lambda: finished() == len(numbers), timeout=120, step=0.5)
    finally:
        for code in AGENTS:
            await controller.agents.logout(code)
    with controller.db.begin() as s:
        rows = s.execute(select(Call.caller_number, Call.uniqueid, Call.status, Call.ticket_id)
                         .where(Call.caller_number.in_(numbers))).all()
    assert sorted(r.caller_number for r in rows) == sorted(numbers)  # one row per call
    assert len({r.uniqueid for r in rows}) == len(numbers)
    assert {r.status for r in rows} <= {"completed", "abandoned"}
    answered = [r for r in rows if r.status == "completed"]
    assert answered, "no call of the burst reached an agent"
    assert all(r.ticket_id is not None for r in answered)
    # The PBX's own summaries of these calls are settled and removed by the reconciler,
    # without adding a row: the finaliser had recorded them all. (The reconciler may record
    # a call an earlier test's controller left in this worker's sandbox: not one of these.)
    leftover = await _drain(controller)
    assert leftover == []
    assert not {r.uniqueid for r in rows} & set(controller.reconciler.recently_recorded)
    with controller.db.begin() as s:
        assert s.scalar(select(func.count()).select_from(Call)
                        .where(Call.caller_number.in_(numbers))) == len(numbers)


async def _drain(controller, rounds: int = 20) -> list[str]:
    """Sweep until no summary of this test's calls is left in the AstDB; return what is left."""
    ours: list[str] = []
    for _ in range(rounds):
        await controller.reconciler.sweep()
        reply = await controller.ami.action("DBGetTree", Family=FAMILY)
        ours = [m["Key"] for m in reply if m.get("Event") == "DBGetTreeResponse"
                and "|1391" in m.get("Val", "")]
        if not ours:
            return []
        await sleep(1)
    return ours
