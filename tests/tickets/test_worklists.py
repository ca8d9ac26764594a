"""The worklists on SQLite and PostgreSQL: what each holds, in which order, with which light;
an agent's unfinished auto-opened tickets; a closed ticket is on none."""

from __future__ import annotations

import datetime as dt

from db.models import Agent, Call, Department, Ticket
from hotline.calls.journal import finalise_call
from hotline.tickets.clock import WorkCalendar
from hotline.tickets.service import TicketService, default_rules
from hotline.tickets.worklists import (
    Lights,
    department_list,
    dispatch_queue,
    follow_up_list,
    supervise_list,
    unfinished_list,
)

NOW = dt.datetime(2024, 11, 18, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Asia/Shanghai


def _lights(service: TicketService, now: dt.datetime) -> Lights:
    return Lights(WorkCalendar(), service.zone, default_rules(), now)


def test_lists_hold_the_right_tickets_in_order_with_lights(session):
    """Received, returned and reopened tickets are in the dispatcher's queue oldest first; the
    department's list and the 督办 list are by deadline, the overdue one red there; replied
    tickets wait for the follow-up; closed ones are nowhere."""
    session.add_all([Department(code="W01", name="水务"), Department(code="P01", name="供电")])
    session.flush()
    clock = {"now": NOW}
    service = TicketService(clock=lambda: clock["now"])

    def ticket(kind: str = "complaint") -> int:
        t = service.intake(session, {"channel": "web", "kind": kind, "description": "x"},
                           actor="a")
        clock["now"] += dt.timedelta(minutes=1)
        return t.id
    received, returned, handling, late, replied, closed = (ticket() for _ in range(6))
    consult = ticket("consultation")
    for t in (returned, handling, late, replied, closed, consult):
        service.dispatch(session, t, department="W01", actor="d")
    service.return_ticket(session, returned, actor="w", reason="非本部门")
    for t in (handling, replied, closed):
        service.accept(session, t, actor="w")
    for t in (replied, closed):
        service.reply(session, t, actor="w", text="ok")
    service.close(session, closed, actor="a")
    session.get(Ticket, late).due_at = NOW - dt.timedelta(hours=1)
    session.flush()
    later = _lights(service, NOW + dt.timedelta(hours=1))

    assert [i.id for i in dispatch_queue(session, later)] == [received, returned]
    dept = session.query(Department).filter_by(code="W01").one()
    mine = department_list(session, dept.id, later)
    assert [i.id for i in mine] == [late, consult, handling]
    assert [i.light for i in mine] == ["red", "green", "green"]
    assert [i.id for i in supervise_list(session, later)] == [late]
    assert [i.id for i in follow_up_list(session, later)] == [replied]
    two_days = _lights(service, NOW + dt.timedelta(days=1, hours=20))
    assert {i.id: i.light for i in department_list(session, dept.id, two_days)}[consult] \
        == "yellow"
    assert [i.id for i in dispatch_queue(session, later, limit=1, offset=1)] == [returned]


def test_an_agents_unfinished_auto_opened_tickets(session):
    """A call the agent answered without filing a ticket leaves one to complete on that
    agent's list, and on no other agent's; an edit takes it off."""
    session.add_all([Agent(code="1001", name="甲"), Agent(code="1002", name="乙")])
    session.flush()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    call = finalise_call(session, uniqueid="u-1", linkedid="u-1", caller_number="13812345678",
                         started_at=start, ended_at=start + dt.timedelta(minutes=3),
                         answered_at=start + dt.timedelta(seconds=20), queue_wait_s=20.0,
                         talk_s=160.0, agent_code="1001", hangup_cause=16, hungup_by="citizen",
                         recordings=[])
    session.flush()
    lights = _lights(TicketService(), dt.datetime.now(dt.UTC))
    assert [i.id for i in unfinished_list(session, "1001", lights)] == [call.ticket_id]
    assert unfinished_list(session, "1002", lights) == []
    TicketService().edit(session, call.ticket_id, {"category": "供水"}, actor="agent1")
    assert unfinished_list(session, "1001", lights) == []
    assert session.get(Call, call.id).ticket.needs_completion is False
