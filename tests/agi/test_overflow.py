"""A caller the queue cannot take (it waited queue.max_wait_s, or the queue is full) is promised a
callback on a ticket of its own, hears so, and the call ends; its call row is kept."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Call, Callback, Citizen, Ticket
from hotline.ami.client import AMIClient
from hotline.controller import Controller
from hotline.sim.city import CitySimulator
from tests.support.hotline import wait_final_call
from tests.support.pbx import SPARE_QUEUE
from tests.support.waiting import until

pytestmark = pytest.mark.pbx


@pytest_twisted.async_yield_fixture
async def spare(spare_sandbox):
    """A controller and the city's hands on the spare sandbox (short queue, no agent in it)."""
    ctl = Controller(config=spare_sandbox.config, reactor=reactor)
    creds = spare_sandbox.secrets()["city_ami"]
    ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                    port=spare_sandbox.config["city"]["ami_port"], reactor=reactor)
    await ctl.start()
    ami.start()
    try:
        await ami.when_ready()
        yield ctl, CitySimulator(ami=ami,
                                 hotline_number=spare_sandbox.config["site"]["hotline_number"])
    finally:
        await ami.stop()
        await ctl.stop()


def _promise_of(db, number: str):
    with db.begin() as s:
        row = s.execute(select(Ticket.number, Callback.due_at, Ticket.description)
                        .join(Callback, Callback.ticket_id == Ticket.id)
                        .join(Citizen, Citizen.id == Ticket.citizen_id)
                        .where(Citizen.phone == number)).first()
        return tuple(row) if row else None


@pytest_twisted.ensureDeferred
async def test_callers_the_queue_cannot_take_are_promised_a_callback(spare):
    """With nobody in the queue, the first callers wait max_wait_s (TIMEOUT) and one more than
    max_length is turned away at once (FULL): each is promised a callback on a ticket linked to
    its call, and its call ends with a row."""
    ctl, city = spare
    numbers = [f"1370000{i:04d}" for i in range(SPARE_QUEUE["max_length"] + 1)]
    for number in numbers:
        await city.call(number, tone="400", hold_s=60)
    for number in numbers:
        row, ticket = await wait_final_call(ctl.db, number, lambda r: r.ticket_id, timeout=40)
        assert row.status == "abandoned" and ticket is not None
        promise = await until(lambda n=number: _promise_of(ctl.db, n), timeout=10)
        assert "系统已承诺回电" in promise[2]
    with ctl.db.begin() as s:
        reasons = s.scalars(select(Ticket.description).join(Call, Call.ticket_id == Ticket.id)
                            .where(Call.caller_number.in_(numbers))).all()
    assert any("排队已满" in r for r in reasons) and any("等待超时" in r for r in reasons)
