"""The controller end to end on the real PBX: citizens' calls, agents, tickets, a stopped controller."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Citizen, Ticket, TicketEvent
from hotline.ami.actions import AMIError
from hotline.calls.journal import UNFILED_CALL_NOTE
from hotline.calls.model import CallState
from hotline.calls.reconciler import FAMILY
from hotline.controller import Controller
from hotline.tickets.service import TicketService
from tests.support.audio import band_ratio
from tests.support.hotline import desk_phone_registered, wait_final_call
from tests.support.pbx import ami_client
from tests.support.waiting import sleep, until, until_true

pytestmark = pytest.mark.pbx

CITIZEN_HZ, AGENT_HZ = 400, 1000


async def until_summarised(sandbox, number: str, timeout: float) -> None:
    """Wait until the PBX's AstDB holds the summary of a finished call from ``number`` (the
    dialplan writes it at hangup, whether the controller is up or not)."""
    ami = ami_client(sandbox)
    ami.start()
    try:
        await ami.when_ready()

        async def summarised() -> bool:
            try:
                reply = await ami.action("DBGetTree", Family=FAMILY)
            except AMIError:  # no summary at all yet
                return False
            return any(f"|{number}|" in m.get("Val", "") for m in reply
                       if m.get("Event") == "DBGetTreeResponse")
        await until_true(summarised, timeout=timeout, step=0.5)
    finally:
        await ami.stop()


def _ticket_of(row):
    if row.ticket is None:
        return None
    events = [(e.actor, e.action) for e in row.ticket.events]
    return row.ticket.channel, row.ticket.description, events


@pytest_twisted.ensureDeferred
async def test_answered_call_has_row_ticket_and_per_direction_recordings(controller, city):
    """The call row is finalised with agent and times, a ticket is linked, and each side's file
    holds its own voice only."""
    await city.ami.when_ready()
    await city.set_agent("1001", delay_s=0.5, tone=str(AGENT_HZ))
    await controller.agents.login("1001")
    try:
        placed = await city.call("13812340001", tone=str(CITIZEN_HZ), hold_s=5)
        row, extra = await wait_final_call(
            controller.db, "13812340001",
            lambda r: ([(x.direction, x.path, x.size_bytes) for x in r.recordings],
                       _ticket_of(r)))
    finally:
        await controller.agents.logout("1001")
    recordings, ticket = extra
    assert placed.caller == "13812340001"
    # The controller's live view followed the same call to its agent.
    assert controller.tracker.answered >= 1
    assert row.status == "completed"
    assert row.answered_at is not None and row.queue_wait_s is not None
    assert row.agent_id is not None
    assert row.talk_s and row.talk_s > 1
    # Nobody filed a ticket from the console during this call: the system opened one.
    assert ticket == ("hotline", UNFILED_CALL_NOTE, [("system", "intake")])
    by_direction = {d: (p, size) for d, p, size in recordings}
    assert set(by_direction) == {"citizen", "agent", "mix"}
    assert all(size and size > 8000 for _p, size in by_direction.values())
    citizen, agent = Path(by_direction["citizen"][0]), Path(by_direction["agent"][0])
    assert band_ratio(citizen, CITIZEN_HZ, AGENT_HZ) > 20, "citizen file holds the agent"
    assert band_ratio(agent, AGENT_HZ, CITIZEN_HZ) > 20, "agent file holds the citizen"


@pytest_twisted.ensureDeferred
async def test_repeat_caller_is_flagged_with_open_tickets_before_the_agent_answers(
        controller, city):
    """While the agent's phone still rings, the live call already says who this is."""
    number = "13812340002"

    def two_open_tickets(s):
        service = TicketService()
        for text in ("小区路灯不亮", "路灯还是不亮，再次反映"):
            service.intake(s, {"channel": "hotline", "kind": "complaint", "description": text,
                               "phone": number}, actor="test")
    await controller.db.run(two_open_tickets)
    await city.ami.when_ready()
    await city.set_agent("1002", delay_s=4, tone=str(AGENT_HZ))
    seen_ringing: list[dict] = []

    def on_change(payload):
        call = payload.get("call")
        if call and call["caller"] == number and call["state"] == CallState.RINGING:
            seen_ringing.append(call)
    remove = controller.tracker.notifier.add_listener(on_change)
    await controller.agents.login("1002")
    try:
        # The citizen's hold time runs from the PBX's answer: greeting, 4 s of ringing, talk.
        await city.call(number, tone=str(CITIZEN_HZ), hold_s=9)
        await until(lambda: seen_ringing, timeout=30)
        row, _ = await wait_final_call(controller.db, number)
    finally:
        remove()
        await controller.agents.logout("1002")
    ringing = seen_ringing[0]
    assert ringing["repeat_caller"] is True
    assert ringing["open_tickets"] == 2
    assert ringing["hotline_call_id"] == str(row.id)
    assert row.status == "completed"


@pytest_twisted.ensureDeferred
async def test_no_agent_logged_in_caller_waits_and_first_login_answers(controller, city):
    """With the queue empty the citizen waits (not dropped); logging an agent in answers them."""
    number = "13812340003"
    status = await controller.ami.action("QueueStatus", Queue="hotline")
    assert not [m for m in status if m.get("Event") == "QueueMember"], "queue not empty"
    await city.ami.when_ready()
    await city.set_agent("1003", delay_s=0.5, tone=str(AGENT_HZ))
    await desk_phone_registered(city, controller, "1003")
    await city.call(number, tone=str(CITIZEN_HZ), hold_s=40)

    def waiting():
        return [c for c in controller.calls.waiting() if c["caller"] == number]
    await until(waiting, timeout=30)
    await sleep(3)  # nobody to ring: the call keeps waiting, it is not dropped
    assert waiting(), "the citizen was dropped while no agent was logged in"
    await controller.agents.login("1003")
    try:
        def talking():
            return [c for c in controller.calls.live_calls()
                    if c["caller"] == number and c["state"] == CallState.TALKING]
        live = await until(talking, timeout=20)
        await controller.ami.action("Hangup", Channel=live[0]["channel"], Cause="16")
        row, _ = await wait_final_call(controller.db, number)
    finally:
        await controller.agents.logout("1003")
    assert row.status == "completed"
    assert row.queue_wait_s >= 3


@pytest_twisted.ensureDeferred
async def test_call_while_controller_is_stopped_is_recorded_when_it_returns(
        pbx_sandbox, controller, city):
    """Fail open: with the controller down the citizen still reaches an agent, and the call is
    in the database (row, agent, recordings, ticket) once the controller is back."""
    number = "13812340004"
    await city.ami.when_ready()
    await city.set_agent("1004", delay_s=0.5, tone=str(AGENT_HZ))
    await desk_phone_registered(city, controller, "1004")
    await controller.agents.login("1004")
    await controller.stop()  # the fixture's stop at teardown is then a second, harmless one
    returned = None
    try:
        await city.call(number, tone=str(CITIZEN_HZ), hold_s=9)
        # Greeting, queue, ~8 s of talk, hangup: all without the controller, until the PBX
        # has left the call's summary for it.
        await until_summarised(pbx_sandbox, number, timeout=40)
        returned = Controller(config=pbx_sandbox.config, reactor=reactor)
        await returned.start()
        row, extra = await wait_final_call(
            returned.db, number,
            lambda r: (sorted(x.direction for x in r.recordings), _ticket_of(r),
                       r.agent.code if r.agent else None))
    finally:
        if returned is not None:
            await returned.agents.logout("1004")
            await returned.stop()
    directions, ticket, agent = extra
    assert row.status == "completed"
    assert agent == "1004"
    assert row.talk_s and row.talk_s >= 5
    assert row.hungup_by == "citizen"
    assert directions == ["agent", "citizen", "mix"]
    assert ticket is not None
    assert returned.reconciler.recorded >= 1


@pytest_twisted.ensureDeferred
async def test_citizen_row_for_unknown_caller_is_created_once(controller, city):
    """Two calls from a new number leave one citizen, two call rows."""
    number = "13812340005"
    await city.ami.when_ready()
    for _ in range(2):
        await city.call(number, tone=str(CITIZEN_HZ), hold_s=1)
    await until(lambda: _count_final(controller.db, number) == 2, timeout=40, step=0.3)
    with controller.db.begin() as s:
        assert len(s.scalars(select(Citizen).where(Citizen.phone == number)).all()) == 1
        # Abandoned calls (nobody answered) open no ticket.
        assert not s.scalars(select(TicketEvent).join(Ticket).join(Citizen)
                             .where(Citizen.phone == number)).all()


def _count_final(db, number):
    from db.models import Call

    with db.begin() as s:
        return len(s.scalars(select(Call).where(Call.caller_number == number,
                                                Call.ended_at.is_not(None))).all())


@pytest_twisted.ensureDeferred
async def test_a_part_that_fails_to_stop_does_not_keep_the_others_running(pbx_sandbox):
    """The console raising in its stop (as a stream lost unnoticed once made it) is logged; the
    FastAGI port is still closed and the AMI link dropped, so the next controller can start."""
    ctl = Controller(config=pbx_sandbox.config, reactor=reactor)
    await ctl.start()
    port = ctl._agi_port.getHost().port

    def broken() -> None:
        raise RuntimeError("the console could not close a stream")
    ctl.web.stop = broken
    await ctl.stop()
    assert ctl._agi_port is None and not ctl.ami.ready
    again = Controller(config=pbx_sandbox.config, reactor=reactor)
    await again.start()  # the same FastAGI port is free again
    try:
        assert again._agi_port.getHost().port == port
    finally:
        await again.stop()


@pytest_twisted.ensureDeferred
async def test_caller_id_with_field_separators_is_recorded_after_a_controller_outage(
        pbx_sandbox, city):
    """A carrier's caller ID name and number holding '|' (the summary's old separator) still
    leave a readable AstDB summary: the calls made while the controller was down are recorded
    when it returns, caller number and all."""
    await city.ami.when_ready()
    callers = [("13812340077", "Zhang|San|x"), ("1381234|0078", "Li Si")]
    for number, name in callers:
        await city.call(number, name=name, tone=str(CITIZEN_HZ), hold_s=3)
    await sleep(8)  # greeting, the queue (nobody logged in), the citizens hang up
    returned = Controller(config=pbx_sandbox.config, reactor=reactor)
    await returned.start()
    try:
        for number, _ in callers:
            row, _ = await wait_final_call(returned.db, number, timeout=20)
            assert row.status == "abandoned"
            assert row.ended_at is not None
    finally:
        await returned.stop()
