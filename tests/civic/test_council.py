"""Council topics (听证议事) as units of work on SQLite and PostgreSQL: collected from linked
tickets, noticed, met and reported, each citizen told the outcome through their ticket; bad
input, wrong steps and public text naming a linked citizen are refused and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import AuditEntry, Callback, CouncilTopic, Ticket, TicketEvent
from hotline.civic import council
from hotline.civic.exceptions import PersonalData, WrongStep
from hotline.tickets.exceptions import InvalidRequest, NotAllowed
from hotline.tickets.service import TicketService
from hotline.web import accounts
from tests.civic.support import CITIZENS, as_user, courtyard_tickets

TOPIC = {"title": "废弃院落改造", "category": "小区环境", "level": "community",
         "council": "幸福里社区议事会", "summary": "三位居民反映废弃院落杂物堆积，议定整治方案。"}


def _setup(db, *, promised: bool = False) -> list[str]:
    with db.begin() as s:
        accounts.create_user(s, "boss", role="supervisor", password="boss-pass-0001")
        accounts.create_user(s, "disp", role="dispatcher", password="disp-pass-0001")
        return courtyard_tickets(s, promised=promised)


def test_topic_from_three_tickets_to_its_after_report(db):
    """Created from three tickets, noticed, met and reported: the topic is public from its
    notice, and each ticket carries the outcome: a reply where it awaited one (with a
    callback for the citizen who asked for a timed reply), a note and a callback where it was
    already answered; every step is audited."""
    numbers = _setup(db, promised=True)
    service = TicketService()
    with db.begin() as s:
        topic = council.create(s, service, as_user(s, "boss"), TOPIC | {"tickets": numbers},
                               ip="t")
        tid = topic["id"]
        assert [t["number"] for t in topic["tickets"]] == numbers
        assert council.public_list(s) == []
    with db.begin() as s:
        council.notice(s, service, as_user(s, "boss"), tid,
                       {"notice_days": 7, "meeting_at": "2026-12-20T19:30",
                        "meeting_place": "幸福里社区活动室"}, ip="t")
        assert [p["id"] for p in council.public_list(s)] == [tid]
        council.meeting(s, service, as_user(s, "boss"), tid,
                        {"participants": "社区书记、居民代表5人、物业", "minutes": "讨论清运与绿化",
                         "decisions": "一周内清运杂物，改建为口袋公园"}, ip="t")
        done = council.report(s, service, as_user(s, "boss"), tid,
                              {"report": "杂物已清运，口袋公园开工"}, ip="t")
    assert [t["told"] for t in done["tickets"]] == ["reply+callback", "reply", "note+callback"]
    with db.begin() as s:
        for number in numbers:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
            last = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                             .order_by(TicketEvent.id.desc())).first()
            assert "口袋公园" in last.text and t.status == "replied"
        assert s.scalar(select(func.count()).select_from(Callback).where(
            Callback.status == "pending")) == 2
        assert set(s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("council.%")))) == {
            "council.create", "council.notice", "council.meeting", "council.report"}


@pytest.mark.parametrize("change, field", [
    ({"level": "city"}, "level"),
    ({"title": ""}, "title"),
    ({"tickets": ["RX20990101-000001", "RX20990101-000002"]}, "tickets"),
    ({"tickets": []}, "tickets"),
])
def test_bad_topic_is_refused(db, change, field):
    """A topic with a bad field or unknown tickets is refused naming the field; none is
    created."""
    numbers = _setup(db)
    with db.begin() as s, pytest.raises(InvalidRequest) as e:
        council.create(s, TicketService(), as_user(s, "boss"),
                       TOPIC | {"tickets": numbers} | change, ip="t")
    assert field in e.value.details["fields"]
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(CouncilTopic)) == 0


@pytest.mark.parametrize("index, kind", [(0, "phone number"), (1, "name"), (2, "address")])
def test_public_text_naming_a_linked_citizen_is_refused(db, index, kind):
    """A summary holding a linked citizen's phone (even spaced), name or address is refused."""
    numbers = _setup(db)
    phone, name, address = CITIZENS[index]
    text = {0: f"居民 {phone[:3]} {phone[3:7]} {phone[7:]} 反映", 1: f"{name}反映杂物",
            2: f"{address}附近杂物"}[index]
    with db.begin() as s, pytest.raises(PersonalData) as e:
        council.create(s, TicketService(), as_user(s, "boss"),
                       TOPIC | {"tickets": numbers, "summary": text}, ip="t")
    assert kind in e.value.message


def test_steps_out_of_order_and_roles_are_refused(db):
    """A meeting before the notice, a second report, and a dispatcher creating a topic are
    refused; the topic stays as it was."""
    numbers = _setup(db)
    service = TicketService()
    with db.begin() as s:
        tid = council.create(s, service, as_user(s, "boss"), TOPIC | {"tickets": numbers},
                             ip="t")["id"]
    with db.begin() as s, pytest.raises(WrongStep):
        council.meeting(s, service, as_user(s, "boss"), tid,
                        {"participants": "x", "minutes": "y", "decisions": "z"}, ip="t")
    with db.begin() as s, pytest.raises(NotAllowed):
        council.create(s, service, as_user(s, "disp"), TOPIC | {"tickets": numbers}, ip="t")
    with db.begin() as s, pytest.raises(InvalidRequest) as e:
        council.notice(s, service, as_user(s, "boss"), tid,
                       {"notice_days": 0, "meeting_place": "活动室",
                        "meeting_at": "0001-01-01T00:00"}, ip="t")
    assert set(e.value.details["fields"]) == {"notice_days", "meeting_at"}
    with db.begin() as s:
        assert s.get(CouncilTopic, tid).status == "collected"
