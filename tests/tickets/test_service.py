"""The ticket service on SQLite and PostgreSQL: intake, every transition, promises, incidents."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from db.models import Call, Callback, Citizen, Department, Grid, Ticket, TicketEvent
from hotline.tickets.exceptions import (
    IllegalTransition,
    IncidentMismatch,
    InvalidIntake,
    InvalidRequest,
    NoSuchDepartment,
    NoSuchGrid,
    NoSuchIncident,
    NoSuchTicket,
    TicketError,
)
from hotline.tickets.schemas import CHANNELS, TicketStatus
from hotline.tickets.service import TRANSITIONS, TicketService

NOW = dt.datetime(2026, 11, 26, 2, 30, tzinfo=dt.UTC)  # 10:30 in Asia/Shanghai


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> TicketService:
    return TicketService(clock=clock)


@pytest.fixture
def org(session):
    """Two departments and two grids to dispatch to and place tickets in."""
    session.add_all([
        Department(code="D01", name="区住建委", kind="partner"),
        Department(code="U01", name="区自来水公司", kind="utility"),
        Grid(code="G001", name="第1网格", level=1),
        Grid(code="G002", name="第2网格", level=1),
    ])
    session.commit()


def _intake(service, session, **fields):
    payload = {"channel": "hotline", "kind": "complaint", "phone": "138 1234 0000",
               "description": "楼道灯坏了", "category": "物业", "grid": "G001"}
    payload.update(fields)
    return service.intake(session, payload, actor="1001")


def test_intake_creates_ticket_citizen_and_event(service, session, org):
    """An intake stores the ticket as received, finds or creates the citizen, and logs one event."""
    ticket = _intake(service, session, citizen_name="张三")
    session.commit()
    assert ticket.number == "RX20261126-000001"
    assert ticket.status == "received"
    assert ticket.citizen.phone == "13812340000"
    assert ticket.citizen.masked_phone == "138****0000"
    assert ticket.citizen.name == "张三"
    assert ticket.grid.code == "G001"
    assert [(e.action, e.from_status, e.to_status) for e in ticket.events] == \
        [("intake", None, "received")]
    assert ticket.created_at == NOW


def test_ticket_numbers_count_per_local_day(service, session, org, clock):
    """Numbers go up within a site-local day and restart at 1 the next local day."""
    numbers = [_intake(service, session).number for _ in range(3)]
    clock.now = dt.datetime(2026, 11, 26, 16, 5, tzinfo=dt.UTC)  # 00:05 on the 27th, local
    numbers.append(_intake(service, session).number)
    assert numbers == ["RX20261126-000001", "RX20261126-000002", "RX20261126-000003",
                       "RX20261127-000001"]


def test_same_phone_in_any_spelling_is_one_citizen(service, session, org):
    """Two intakes with differently written numbers attach to the same citizen."""
    a = _intake(service, session, phone="+86 138-1234-0000")
    b = _intake(service, session, phone="008613812340000")
    session.commit()
    assert a.citizen_id == b.citizen_id
    assert session.scalars(select(Citizen)).all() == [a.citizen]


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_intake_from_each_channel(service, session, org, channel):
    """Every registered channel is accepted and stored on the ticket."""
    ticket = _intake(service, session, channel=channel)
    session.commit()
    assert session.get(Ticket, ticket.id).channel == channel


def test_intake_without_phone_allowed_off_the_line(service, session, org):
    """A written channel may come without a phone number; the phone line may not."""
    ticket = _intake(service, session, channel="web", phone=None)
    assert ticket.citizen is None
    with pytest.raises(InvalidIntake) as caught:
        _intake(service, session, channel="hotline", phone=None)
    assert "phone" in caught.value.problems


def test_intake_unknown_grid_or_department_changes_nothing(service, session, org):
    """An unknown grid or department code is refused before anything is written."""
    with pytest.raises(NoSuchGrid):
        _intake(service, session, grid="G999")
    with pytest.raises(NoSuchDepartment):
        _intake(service, session, department="X99")
    session.rollback()
    assert session.scalars(select(Ticket)).all() == []
    assert session.scalars(select(Citizen)).all() == []


def test_intake_links_the_call(service, session, org):
    """A call uniqueid on intake ties the recorded call row to the new ticket."""
    session.add(Call(uniqueid="1700000000.1", linkedid="1700000000.1", direction="inbound",
                     started_at=NOW))
    session.flush()
    ticket = _intake(service, session, call_uniqueid="1700000000.1")
    session.commit()
    assert session.scalars(select(Call)).one().ticket_id == ticket.id


def _drive_to(service, session, status: str):
    """A fresh ticket brought to ``status`` through legal moves."""
    t = _intake(service, session)
    paths = {
        "received": [],
        "dispatched": ["dispatch"],
        "handling": ["dispatch", "accept"],
        "replied": ["dispatch", "accept", "reply"],
        "followed_up": ["dispatch", "accept", "reply", "follow_up"],
        "closed": ["dispatch", "accept", "reply", "close"],
        "reopened": ["dispatch", "accept", "reply", "close", "reopen"],
        "merged": ["merge"],
        "returned": ["dispatch", "return"],
    }
    for action in paths[status]:
        _do(service, session, t, action)
    assert t.status == status
    return t


def _do(service, session, ticket, action):
    if action == "dispatch":
        return service.dispatch(session, ticket.id, department="D01", actor="1001")
    if action == "reply":
        return service.reply(session, ticket.id, actor="D01", text="已修复")
    if action == "reopen":
        return service.reopen(session, ticket.id, actor="1001", text="市民不满意")
    if action == "return":
        return service.return_ticket(session, ticket.id, actor="D01", reason="不属于本部门职责")
    if action == "merge":
        other = _intake(service, session)
        return service.merge(session, ticket.id, into=other.id, actor="1001")
    return getattr(service, action)(session, ticket.id, actor="1001")


ALL_CASES = list(itertools.product(sorted(TRANSITIONS), [s.value for s in TicketStatus]))


@pytest.mark.parametrize(("action", "status"), ALL_CASES)
def test_every_transition(service, session, org, action, status):
    """Each action from each status either moves the ticket and logs one event, or is refused
    with an IllegalTransition and changes nothing."""
    ticket = _drive_to(service, session, status)
    session.commit()
    events_before = len(ticket.events)
    allowed, target = TRANSITIONS[action]
    if status in allowed:
        _do(service, session, ticket, action)
        session.commit()
        assert ticket.status == target
        last = ticket.events[-1]
        assert (last.action, last.from_status, last.to_status) == (action, status, target)
    else:
        with pytest.raises(IllegalTransition) as caught:
            _do(service, session, ticket, action)
        session.rollback()
        error = caught.value
        assert error.status_code == 409 and error.error_id == "illegal-transition"
        assert error.details["tickets"] == {ticket.number: status}
        assert session.get(Ticket, ticket.id).status == status
        assert len(session.get(Ticket, ticket.id).events) == events_before


def test_full_lifecycle_event_trail(service, session, org):
    """接-派-办-评 from intake to closure leaves one event per step, in order, with actors."""
    t = _intake(service, session)
    service.dispatch(session, t.id, department="U01", actor="1001")
    service.accept(session, t.id, actor="U01")
    service.reply(session, t.id, actor="U01", text="已派人维修")
    service.follow_up(session, t.id, actor="1002", text="市民满意")
    service.close(session, t.id, actor="1002")
    session.commit()
    trail = session.execute(select(TicketEvent.action, TicketEvent.actor, TicketEvent.to_status)
                            .where(TicketEvent.ticket_id == t.id)
                            .order_by(TicketEvent.id)).all()
    assert [tuple(r) for r in trail] == [
        ("intake", "1001", "received"), ("dispatch", "1001", "dispatched"),
        ("accept", "U01", "handling"), ("reply", "U01", "replied"),
        ("follow_up", "1002", "followed_up"), ("close", "1002", "closed")]
    assert t.department.code == "U01"


def test_reply_and_reopen_need_text(service, session, org):
    """A reply without an answer or a reopening without a reason is refused."""
    t = _intake(service, session)
    with pytest.raises(TicketError):
        service.reply(session, t.id, actor="1001", text=" ")
    service.reply(session, t.id, actor="1001", text="已解答")
    with pytest.raises(TicketError):
        service.reopen(session, t.id, actor="1001", text="")


def test_merge_rules(service, session, org):
    """A ticket cannot merge into itself or into a closed ticket; a merge notes both tickets."""
    a, b = _intake(service, session), _intake(service, session)
    with pytest.raises(TicketError):
        service.merge(session, a.id, into=a.id, actor="1001")
    closed = _drive_to(service, session, "closed")
    with pytest.raises(IllegalTransition):
        service.merge(session, a.id, into=closed.id, actor="1001")
    service.merge(session, a.id, into=b.id, actor="1001")
    session.commit()
    assert a.status == "merged" and a.merged_into_id == b.id
    assert b.events[-1].action == "merged_in"


def test_unknown_ticket(service, session, org):
    """Acting on a ticket that does not exist raises NoSuchTicket (404)."""
    with pytest.raises(NoSuchTicket) as caught:
        service.close(session, 12345, actor="1001")
    assert caught.value.status_code == 404
    with pytest.raises(NoSuchTicket):
        service.get_by_number(session, "RX20260101-000001")


def test_promised_reply_on_intake_creates_callback(service, session, org):
    """A promised reply time given on intake creates one pending callback due then."""
    due = NOW + dt.timedelta(hours=4)
    t = _intake(service, session, promised_reply_at=due.isoformat())
    session.commit()
    cb = session.scalars(select(Callback)).one()
    assert (cb.ticket_id, cb.citizen_id, cb.due_at, cb.status) == (t.id, t.citizen_id, due,
                                                                   "pending")
    assert t.promised_reply_at == due


def test_promised_reply_changed_later_moves_the_callback(service, session, org):
    """Setting and then moving the promise keeps one pending callback at the newest time."""
    t = _intake(service, session)
    first, second = NOW + dt.timedelta(hours=2), NOW + dt.timedelta(days=1)
    service.set_promised_reply(session, t.id, first, actor="1001")
    service.set_promised_reply(session, t.id, second, actor="1001", text="部门需现场勘查")
    session.commit()
    assert session.scalars(select(Callback.due_at)).all() == [second]
    assert [e.action for e in t.events] == ["intake", "promise", "promise"]
    assert "moved" in t.events[-1].text


def test_promised_reply_refusals(service, session, org):
    """A past, zone-less or closed-ticket promise is refused."""
    t = _intake(service, session)
    with pytest.raises(TicketError):
        service.set_promised_reply(session, t.id, NOW - dt.timedelta(minutes=1), actor="1001")
    with pytest.raises(TicketError):
        service.set_promised_reply(session, t.id, dt.datetime(2030, 1, 1), actor="1001")
    closed = _drive_to(service, session, "closed")
    with pytest.raises(IllegalTransition):
        service.set_promised_reply(session, closed.id, NOW + dt.timedelta(hours=1), actor="x")


def test_close_cancels_pending_callback(service, session, org):
    """Closing a ticket cancels the callback that was still pending for it."""
    t = _intake(service, session, promised_reply_at=(NOW + dt.timedelta(hours=1)).isoformat())
    service.reply(session, t.id, actor="1001", text="已解答")
    service.close(session, t.id, actor="1001")
    session.commit()
    assert session.scalars(select(Callback.status)).one() == "cancelled"


def test_add_note_keeps_status(service, session, org):
    """A note is an event without a status change."""
    t = _intake(service, session)
    event = service.add_note(session, t.id, actor="stt", text="通话记录")
    assert (event.action, event.from_status, event.to_status) == ("note", None, None)
    assert t.status == "received"


# -- incidents -------------------------------------------------------------------------------

def test_propose_incidents_groups_by_grid_or_address(service, session, org, clock):
    """Same kind and category in the same grid, or at the same address, are proposed together;
    other kinds, categories, places and old tickets are not."""
    a = _intake(service, session, grid="G001", address="幸福路1号")
    b = _intake(service, session, grid="G001", address="幸福路2号")
    c = _intake(service, session, grid="G002", address=" 幸福路2号 ")  # same address as b
    _intake(service, session, grid="G001", kind="help")               # other kind
    _intake(service, session, grid="G001", category="噪声")            # other category
    _intake(service, session, grid="G002", category="噪声", address="和平街")  # alone
    clock.now = NOW - dt.timedelta(days=10)
    _intake(service, session, grid="G001")                             # too old
    clock.now = NOW
    session.commit()
    proposals = service.propose_incidents(session)
    assert [p.ticket_ids for p in proposals] == [(a.id, b.id, c.id)]
    assert (proposals[0].kind, proposals[0].category) == ("complaint", "物业")
    assert {t.id for t in service.similar_tickets(session, a.id)} == {b.id}


def test_confirm_incident_and_handle_in_one_step(service, session, org):
    """A confirmed incident is dispatched, replied to and closed in one call each, reaching
    every ticket in it."""
    tickets = [_intake(service, session, phone=f"1390000000{i}") for i in range(3)]
    incident = service.confirm_incident(session, [t.id for t in tickets], actor="supervisor",
                                        title="幸福小区楼道灯")
    session.commit()
    assert all(t.incident_id == incident.id for t in tickets)
    assert service.propose_incidents(session) == []
    service.dispatch_incident(session, incident.id, department="D01", actor="supervisor")
    for t in tickets:
        service.start_handling(session, t.id, actor="D01")
    replied = service.reply_incident(session, incident.id, actor="D01", text="已统一更换灯具")
    closed = service.close_incident(session, incident.id, actor="supervisor")
    session.commit()
    assert len(replied) == len(closed) == 3
    assert {t.status for t in tickets} == {"closed"}
    assert incident.status == "closed"
    assert all(any(e.text == "已统一更换灯具" for e in t.events) for t in tickets)


def test_incident_action_is_all_or_nothing(service, session, org):
    """If one ticket of the incident cannot take the step, none does."""
    a, b = _intake(service, session), _intake(service, session)
    incident = service.confirm_incident(session, [a.id, b.id], actor="supervisor")
    service.dispatch_incident(session, incident.id, department="D01", actor="supervisor")
    service.start_handling(session, a.id, actor="D01")
    service.return_ticket(session, b.id, actor="D01", reason="不归我部门")
    session.commit()
    with pytest.raises(IllegalTransition) as caught:
        service.reply_incident(session, incident.id, actor="D01", text="答复")
    session.rollback()
    assert caught.value.details["tickets"] == {b.number: "returned"}
    assert (a.status, b.status) == ("handling", "returned")
    assert session.scalars(select(Callback)).all() == []


def test_incident_reply_takes_up_waiting_tickets_and_calls_each_citizen_once(
        service, session, org):
    """The department's one reply accepts the dispatched tickets, replies every ticket, and
    owes one callback per citizen (a citizen in two tickets and a co-reporter included)."""
    a = _intake(service, session, phone="13900000001")
    b = _intake(service, session, phone="13900000002")
    c = _intake(service, session, phone="13900000001")  # the same citizen again
    service.add_reporter(session, b.id, phone_number="13900000003", actor="1001")
    incident = service.confirm_incident(session, [a.id, b.id, c.id], actor="supervisor")
    service.dispatch_incident(session, incident.id, department="D01", actor="supervisor")
    service.start_handling(session, a.id, actor="D01")
    with pytest.raises(InvalidRequest):
        service.reply_incident(session, incident.id, actor="D01", text=" ")
    service.reply_incident(session, incident.id, actor="D01", text="已统一抢修")
    session.commit()
    assert {t.status for t in (a, b, c)} == {"replied"}
    assert [e.action for e in b.events][-2:] == ["accept", "reply"]
    phones = sorted(cb.citizen.phone for cb in session.scalars(select(Callback)))
    assert phones == ["13900000001", "13900000002", "13900000003"]
    assert service.incident_progress(session, incident.id) == {
        "total": 3, "reached": 0, "not_reached": 0, "pending": 3}
    assert incident.status == "replied" and incident.replied_by == "D01"


def test_confirm_incident_refusals(service, session, org):
    """Fewer than two tickets, mixed kinds, or tickets already grouped cannot be confirmed."""
    a, b = _intake(service, session), _intake(service, session)
    other = _intake(service, session, kind="help")
    with pytest.raises(IncidentMismatch):
        service.confirm_incident(session, [a.id], actor="s")
    with pytest.raises(IncidentMismatch):
        service.confirm_incident(session, [a.id, other.id], actor="s")
    service.confirm_incident(session, [a.id, b.id], actor="s")
    c = _intake(service, session)
    with pytest.raises(IncidentMismatch):
        service.confirm_incident(session, [a.id, c.id], actor="s")
    with pytest.raises(NoSuchIncident):
        service.close_incident(session, 999, actor="s")
