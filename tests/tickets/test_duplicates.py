"""Possible duplicates at intake and co-reporters, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import Callback, Department, Grid, TicketReporter
from hotline.tickets.duplicates import DuplicateQuery, grams, load_query, similarity
from hotline.tickets.exceptions import IllegalTransition, InvalidRequest
from hotline.tickets.service import TicketService

NOW = dt.datetime(2026, 11, 26, 2, 30, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> TicketService:
    return TicketService(clock=clock)


@pytest.fixture
def org(session):
    session.add_all([Department(code="W01", name="区水务局"),
                     Grid(code="G001", name="第1网格", level=1),
                     Grid(code="G002", name="第2网格", level=1)])
    session.commit()


def _intake(service, session, **fields):
    payload = {"channel": "hotline", "kind": "complaint", "phone": "13800000001",
               "description": "胜利路自来水管爆裂，路面积水", "category": "供水", "grid": "G001"}
    payload.update(fields)
    return service.intake(session, payload, actor="1001")


def test_bigrams_rank_the_same_problem_above_another():
    """Character bigrams make the same burst pipe in other words closer than a noise complaint."""
    asked = grams("胜利路水管爆了，到处是水")
    assert similarity(asked, grams("胜利路自来水管爆裂，路面积水")) > \
        similarity(asked, grams("胜利路夜间施工噪声扰民"))
    assert similarity(grams("ABC"), grams("abc")) == 1.0
    assert similarity(grams(""), grams("水")) == 0.0


def test_candidates_share_grid_and_category_within_the_window(service, session, org, clock):
    """Open tickets of the same grid and category filed within the window are candidates, the
    most similar first; other grids, categories, closed or old tickets are not."""
    clock.now = NOW - dt.timedelta(days=10)
    _intake(service, session)                                            # too old
    clock.now = NOW - dt.timedelta(hours=3)
    burst = _intake(service, session)
    noise = _intake(service, session, description="胜利路夜间施工噪声")
    _intake(service, session, grid="G002")                               # other grid
    _intake(service, session, category="噪声")                            # other category
    closed = _intake(service, session)
    closed.status = "closed"
    clock.now = NOW
    session.commit()
    found = service.duplicates(session, DuplicateQuery(
        category="供水", grid="G001", description="胜利路水管爆了，路面全是水"), days=7)
    assert [c.number for c in found.candidates] == [burst.number, noise.number]
    assert found.candidates[0].score > found.candidates[1].score
    assert found.candidates[0].reason == "same_grid"
    assert found.grid == "G001"


def test_same_address_is_ranked_up_without_a_grid(service, session, org):
    """Without a grid, the same category is searched and the same address ranks first."""
    near = _intake(service, session, grid=None, address="胜利路 12号", description="水管漏水了")
    far = _intake(service, session, grid=None, address="和平街8号", description="水管漏水")
    session.commit()
    found = service.duplicates(session, DuplicateQuery(category="供水", address="胜利路12号",
                                                       description="水管漏水"))
    assert [c.number for c in found.candidates] == [near.number, far.number]
    assert found.candidates[0].reason == "same_category"


def test_the_callers_own_open_tickets_are_listed(service, session, org):
    """A caller's own open tickets come back whatever their category (一人多诉)."""
    own = _intake(service, session, phone="13900000009", category="噪声", description="广场舞")
    session.commit()
    found = service.duplicates(session, load_query({"phone": "139 0000 0009"}))
    assert [c.number for c in found.own] == [own.number]
    assert found.candidates == []
    assert "13900000009" not in str(found.to_dict())


def test_bad_query_fields_are_refused_by_name(service, session, org):
    """A wrong phone, an overlong category or an unknown grid is refused, naming the field."""
    with pytest.raises(InvalidRequest) as caught:
        load_query({"phone": "12", "category": "x" * 51, "latitude": "north"})
    assert set(caught.value.problems) == {"phone", "category", "latitude"}
    with pytest.raises(InvalidRequest):
        service.duplicates(session, DuplicateQuery(category="供水", grid="G999"))


def test_attached_caller_is_a_co_reporter_called_back_on_reply(service, session, org):
    """Attaching a second caller makes them a co-reporter (once); the reply gives both
    reporters a callback of their own."""
    ticket = _intake(service, session)
    session.commit()
    added = service.add_reporter(session, ticket.id, phone_number="13700000002",
                                 actor="1002", text="我家楼下也在冒水")
    assert added is not None
    assert service.add_reporter(session, ticket.id, phone_number="137 0000 0002",
                                actor="1002") is None
    assert service.add_reporter(session, ticket.id, phone_number="13800000001",
                                actor="1002") is None
    session.commit()
    assert session.scalar(select(TicketReporter).where(
        TicketReporter.ticket_id == ticket.id)).description == "我家楼下也在冒水"
    assert ticket.events[-1].action == "co_report" and "137****0002" in ticket.events[-1].text
    service.reply(session, ticket.id, actor="1001", text="已关阀抢修")
    session.commit()
    callbacks = session.scalars(select(Callback).where(Callback.ticket_id == ticket.id)).all()
    assert [(c.citizen.phone, c.status) for c in callbacks] == [
        ("13800000001", "pending"), ("13700000002", "pending")]


def test_attach_refused_for_bad_phone_or_closed_ticket(service, session, org):
    """A bad phone number or a closed ticket is refused and nothing is added."""
    ticket = _intake(service, session)
    with pytest.raises(InvalidRequest):
        service.add_reporter(session, ticket.id, phone_number="abc", actor="1002")
    ticket.status = "closed"
    with pytest.raises(IllegalTransition):
        service.add_reporter(session, ticket.id, phone_number="13700000002", actor="1002")
    session.rollback()
    assert session.scalar(select(TicketReporter)) is None
