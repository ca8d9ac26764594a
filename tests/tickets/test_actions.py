"""The steps of a ticket's life as people take them (``TicketActions``), on SQLite and
PostgreSQL: return with a reason, extensions approved and refused, the follow-up verdicts,
edits with history, every role refusal, bad input refused with nothing changed, the 409 on a
concurrent change, attachments kept and served only to whom may read the ticket."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from db.models import (
    AuditEntry,
    Department,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketExtension,
)
from hotline.tickets.actions import TicketActions, UploadedFile, principal_of
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.clock import add_working_days
from hotline.tickets.exceptions import (
    AttachmentRefused,
    IllegalTransition,
    InvalidRequest,
    NoSuchAttachment,
    NoSuchDepartment,
    NoSuchTicket,
    NotAllowed,
    TicketChanged,
)
from hotline.tickets.permissions import ACTION_ROLES
from hotline.tickets.service import TicketService
from hotline.web import accounts

NOW = dt.datetime(2024, 11, 18, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Asia/Shanghai


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


USERS = {  # username: (role, department, agent code)
    "agent1": ("agent", None, "1001"), "disp": ("dispatcher", None, None),
    "boss": ("supervisor", None, None), "root": ("admin", None, None),
    "water": ("liaison", "W01", None), "power": ("liaison", "P01", None),
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def life(db, tmp_path, clock):
    """Two departments, one user per role, and the actions over a store in a temp folder."""
    with db.begin() as s:
        s.add_all([Department(code="W01", name="区水务局"), Department(code="P01", name="供电公司"),
                   Department(code="H01", name="住建委")])
        s.flush()
        for name, (role, dept, code) in USERS.items():
            accounts.create_user(s, name, role=role, password=f"{name}-password-1",
                                 department=dept, agent_code=code)
    store = AttachmentStore(tmp_path / "attachments", max_bytes=1000,
                            types=["image/png", "text/plain"])
    return TicketActions(service=TicketService(clock=clock), attachments=store)


def who(db, name: str):
    with db.begin() as s:
        return principal_of(s, name)


def new_ticket(db, life, kind: str = "complaint") -> int:
    with db.begin() as s:
        return life.service.intake(s, {"channel": "hotline", "kind": kind, "phone": "13812345678",
                                       "description": "自来水发黄", "category": "供水"},
                                   actor="agent1").id


def do(db, life, user: str, action: str, ticket_id: int, **payload):
    with db.begin() as s:
        return life.perform(s, who(db, user), action, ticket_id, payload, ip="127.0.0.1")


def events(db, ticket_id: int) -> list[tuple[str, str]]:
    with db.begin() as s:
        return [(e.action, e.actor) for e in s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id))]


def test_dispatch_accept_reply_follow_up_close(db, life):
    """The whole life: dispatched with a co-department and an instruction, the clock starts;
    the liaison accepts and replies; a satisfied follow-up closes it; all audited."""
    t = new_ticket(db, life)
    view = do(db, life, "disp", "dispatch", t, department="W01", co_departments=["P01"],
              instruction="请三日内上门查看")
    assert view["status"] == "dispatched" and view["department"] == "W01"
    assert [d["code"] for d in view["co_departments"]] == ["P01"]
    with db.begin() as s:
        expected = add_working_days(NOW, 20, life.service.calendar(s), life.service.zone)
    assert view["due_at"] == expected.isoformat()
    assert view["first_contact_due_at"] == (NOW + dt.timedelta(hours=24)).isoformat()
    assert view["light"] == "green" and "accept" not in view["actions"]  # dispatcher's view
    water = do(db, life, "water", "accept", t)
    assert water["status"] == "handling" and "reply" in water["actions"]
    assert water["citizen_phone"] == "138****5678" and "caller_phone" not in water
    do(db, life, "water", "reply", t, text="已更换管道")
    closed = do(db, life, "agent1", "follow_up", t, satisfied=True, solved=True, text="满意")
    assert closed["status"] == "closed" and closed["caller_phone"] == "13812345678"
    assert [a for a, _ in events(db, t)] == ["intake", "dispatch", "accept", "reply",
                                              "follow_up", "close"]
    with db.begin() as s:
        assert [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if e.action.startswith("ticket.")] == [
            "ticket.dispatch", "ticket.accept", "ticket.reply", "ticket.follow_up"]
        assert s.get(Ticket, t).first_contacted_at is not None


def test_return_with_reason_goes_back_to_the_dispatcher(db, life, clock):
    """A return needs a reason; it leaves the department, joins the dispatcher's queue on the
    dispatcher's clock, and the next department's clock starts afresh at its dispatch."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01")
    with pytest.raises(InvalidRequest) as caught:
        do(db, life, "water", "return", t, reason="  ")
    assert "reason" in caught.value.problems
    clock.now = NOW + dt.timedelta(days=3)
    returned = do(db, life, "water", "return", t, reason="属供电公司职责")
    assert returned["status"] == "returned" and returned["department"] is None
    with db.begin() as s:
        queue = life.worklist(s, who(db, "disp"), "dispatch")["items"]
        assert [i["id"] for i in queue] == [t]
        assert life.worklist(s, who(db, "water"), "department")["items"] == []
    clock.now = NOW + dt.timedelta(days=4)
    again = do(db, life, "disp", "dispatch", t, department="P01")
    assert dt.datetime.fromisoformat(again["clock_started_at"]) == clock.now
    assert "属供电公司职责" in [e for e in _texts(db, t) if "退单" in e][0]


def _texts(db, ticket_id: int) -> list[str]:
    with db.begin() as s:
        return [e.text or "" for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))]


def test_extension_approved_moves_the_deadline(db, life):
    """An extension request approved by a supervisor moves the deadline by its working days
    and records both deadlines."""
    t = new_ticket(db, life, kind="consultation")
    do(db, life, "disp", "dispatch", t, department="W01")
    do(db, life, "water", "accept", t)
    view = do(db, life, "water", "extend", t, days=2, reason="需协调物业")
    before = dt.datetime.fromisoformat(view["due_at"])
    [pending] = view["extensions"]
    assert pending["status"] == "pending"
    with pytest.raises(IllegalTransition):
        do(db, life, "water", "extend", t, days=1, reason="再延")  # one pending at a time
    with pytest.raises(NotAllowed):
        with db.begin() as s:
            life.decide_extension(s, who(db, "water"), pending["id"], approve=True)
    with db.begin() as s:
        after = life.decide_extension(s, who(db, "boss"), pending["id"], approve=True,
                                      note="同意")
    due = dt.datetime.fromisoformat(after["due_at"])
    with db.begin() as s:
        expected = add_working_days(before, 2, life.service.calendar(s), life.service.zone)
        x = s.get(TicketExtension, pending["id"])
        assert (x.status, x.old_due_at, x.new_due_at) == ("approved", before, expected)
    assert due == expected
    assert any("延期批准" in text for text in _texts(db, t))


def test_extension_refused_keeps_the_deadline_and_needs_a_note(db, life):
    """A refusal without a note is refused; with one the deadline stays as it was."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01")
    do(db, life, "water", "accept", t)
    view = do(db, life, "water", "extend", t, days=5, reason="材料不全")
    ext = view["extensions"][0]["id"]
    with pytest.raises(InvalidRequest):
        with db.begin() as s:
            life.decide_extension(s, who(db, "boss"), ext, approve=False, note="")
    with db.begin() as s:
        after = life.decide_extension(s, who(db, "boss"), ext, approve="false",
                                      note="时限内可办结")
    assert after["due_at"] == view["due_at"]
    assert after["extensions"][0]["status"] == "refused"


def test_not_satisfied_reopens_to_the_same_department_with_a_shorter_deadline(db, life, clock):
    """A follow-up 'not satisfied' reopens the ticket to its department with the reopening
    deadline, counting the reopenings; the department accepts and answers again."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01")
    do(db, life, "water", "accept", t)
    do(db, life, "water", "reply", t, text="已处理")
    clock.now = NOW + dt.timedelta(days=1)
    with pytest.raises(InvalidRequest):
        do(db, life, "agent1", "follow_up", t, satisfied=False)  # why is needed
    view = do(db, life, "agent1", "follow_up", t, satisfied=False, text="水仍发黄")
    assert view["status"] == "reopened" and view["department"] == "W01"
    assert view["reopen_count"] == 1
    with db.begin() as s:
        expected = add_working_days(clock.now, 10, life.service.calendar(s), life.service.zone)
    assert dt.datetime.fromisoformat(view["due_at"]) == expected
    water = do(db, life, "water", "accept", t)
    assert water["status"] == "handling"
    do(db, life, "water", "reply", t, text="已再次冲洗管道")


def test_edit_keeps_history_and_completes_an_auto_opened_ticket(db, life):
    """Corrections are recorded old → new; the auto-opened mark is cleared; a bad field is
    refused naming it, and nothing changes."""
    t = new_ticket(db, life, kind="consultation")
    with db.begin() as s:
        s.get(Ticket, t).needs_completion = True
    with pytest.raises(InvalidRequest) as caught:
        do(db, life, "agent1", "edit", t, category="x" * 51, phone="12")
    assert set(caught.value.problems) == {"category", "phone"}
    view = do(db, life, "agent1", "edit", t, kind="help", category="停水",
              address="幸福路 3 号", citizen_name="王五")
    assert (view["kind"], view["category"], view["address"]) == ("help", "停水", "幸福路 3 号")
    assert view["needs_completion"] is False and view["citizen_name"] == "王五"
    edit_text = [x for x in _texts(db, t) if x.startswith("更正")][0]
    assert "分类：供水 → 停水" in edit_text and "类型：consultation → help" in edit_text
    do(db, life, "disp", "dispatch", t, department="W01")
    with pytest.raises(InvalidRequest):
        do(db, life, "agent1", "edit", t, kind="complaint")  # the clock depends on it


@pytest.mark.parametrize(("action", "payload"), [
    ("dispatch", {"department": "W01"}), ("accept", {}), ("return", {"reason": "r"}),
    ("extend", {"days": 1, "reason": "r"}), ("contact", {}), ("reply", {"text": "t"}),
    ("follow_up", {"satisfied": True}), ("close", {}), ("reopen", {"reason": "r"}),
    ("edit", {"category": "c"})])
def test_every_role_refusal(db, life, action, payload):
    """Each role outside an action's roles is refused with 403 and nothing changes; a liaison
    is refused another department's ticket (404: it is not even shown)."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01")
    before = events(db, t)
    for name, (role, _, _) in USERS.items():
        if role in ACTION_ROLES[action] or name == "power":
            continue
        with pytest.raises(NotAllowed) as caught:
            do(db, life, name, action, t, **payload)
        assert caught.value.status_code == 403
    with pytest.raises(NoSuchTicket) as caught:  # another department's liaison: not shown
        do(db, life, "power", action, t, **payload)
    assert caught.value.status_code == 404
    assert events(db, t) == before


def test_liaison_of_a_co_department_sees_but_cannot_act(db, life):
    """A co-handling department's liaison sees the ticket (role co) but may not reply."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01", co_departments=["P01"])
    with db.begin() as s:
        listed = life.worklist(s, who(db, "power"), "department")["items"]
        assert [(i["id"], i["role"]) for i in listed] == [(t, "co")]
        assert life.view(s, who(db, "power"), t)["actions"] == []
    with pytest.raises(NotAllowed):
        do(db, life, "power", "reply", t, text="协办意见")


def test_bad_input_is_refused_and_changes_nothing(db, life):
    """Unknown department, empty reason, a step not allowed from the status, an unknown field
    or a bad version: a clear error naming the problem, and the ticket unchanged."""
    t = new_ticket(db, life)
    before = events(db, t)
    with pytest.raises(NoSuchDepartment) as caught:
        do(db, life, "disp", "dispatch", t, department="X99")
    assert "X99" in caught.value.message
    with pytest.raises(InvalidRequest):
        do(db, life, "disp", "dispatch", t)  # no department
    with pytest.raises(InvalidRequest) as caught:
        do(db, life, "disp", "dispatch", t, department="W01", colour="red")
    assert "colour" in caught.value.problems
    with pytest.raises(InvalidRequest):
        do(db, life, "disp", "dispatch", t, department="W01", version="two")
    with pytest.raises(IllegalTransition) as caught:
        do(db, life, "agent1", "close", t)  # received: nothing to close yet
    assert caught.value.status_code == 409 and "allowed only from" in caught.value.message
    do(db, life, "disp", "dispatch", t, department="W01")
    with pytest.raises(InvalidRequest):
        do(db, life, "water", "return", t)
    with pytest.raises(InvalidRequest):
        do(db, life, "water", "reply", t, text="")
    assert events(db, t) == [*before, ("dispatch", "disp")]


def test_stale_version_gets_409_with_the_current_state(db, life):
    """Two people read version v; the first step wins, the second is refused with 409 and the
    ticket as it is now, and its change is not applied."""
    t = new_ticket(db, life)
    with db.begin() as s:
        seen = s.get(Ticket, t).version
    do(db, life, "disp", "dispatch", t, department="W01", version=seen)
    with pytest.raises(TicketChanged) as caught:
        do(db, life, "boss", "dispatch", t, department="P01", version=seen)
    error = caught.value
    assert error.status_code == 409 and error.error_id == "ticket-changed"
    assert error.details["ticket"]["department"] == "W01"
    assert error.details["ticket"]["version"] == seen + 1
    with db.begin() as s:
        assert s.get(Ticket, t).department.code == "W01"


def test_concurrent_changes_one_wins(db, life, db_url):
    """Two units of work acting on the same version at the same moment: exactly one commits,
    the other gets TicketChanged (SQLite's single writer, PostgreSQL's row lock)."""
    t = new_ticket(db, life)
    with db.begin() as s:
        seen = s.get(Ticket, t).version
    barrier = threading.Barrier(2)
    results: list[object] = []

    def act(dept: str) -> None:
        user = who(db, "boss")
        barrier.wait()
        try:
            results.append(db.unit(life.perform, user, "dispatch", t,
                                   {"department": dept, "version": seen}))
        except TicketChanged as e:
            results.append(e)
    threads = [threading.Thread(target=act, args=(d,)) for d in ("W01", "P01")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(type(r).__name__ for r in results) == ["TicketChanged", "dict"]
    with db.begin() as s:
        ticket = s.get(Ticket, t)
        assert ticket.version == seen + 1
        assert s.scalar(select(func.count()).select_from(TicketEvent).where(
            TicketEvent.ticket_id == t, TicketEvent.action == "dispatch")) == 1


def test_attachments_limited_kept_and_served_to_readers_only(db, life):
    """A reply carries its files; an oversized or unaccepted file is refused and nothing is
    kept; another department's liaison cannot download it."""
    t = new_ticket(db, life)
    do(db, life, "disp", "dispatch", t, department="W01")
    with pytest.raises(AttachmentRefused) as caught:
        with db.begin() as s:
            life.perform(s, who(db, "water"), "reply", t, {"text": "见附件"},
                         files=[UploadedFile("big.png", "image/png", b"x" * 1001)])
    assert caught.value.status_code == 413
    with pytest.raises(AttachmentRefused) as caught:
        with db.begin() as s:
            life.upload(s, who(db, "water"), t, UploadedFile("a.exe", "application/x-msdos",
                                                             b"MZ"))
    assert caught.value.status_code == 415
    with db.begin() as s:
        assert s.scalar(select(func.count()).select_from(TicketAttachment)) == 0
    root = life.attachments.root
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]
    with db.begin() as s:
        view = life.perform(s, who(db, "water"), "reply", t, {"text": "已处理，见照片"},
                            files=[UploadedFile("../现场.png", "image/png", b"\x89PNG-photo")])
    [attachment] = view["attachments"]
    assert attachment["filename"] == "现场.png" and attachment["event_id"] is not None
    with db.begin() as s:
        data, name, ctype = life.download(s, who(db, "boss"), attachment["id"])
        assert (data, name, ctype) == (b"\x89PNG-photo", "现场.png", "image/png")
        with pytest.raises(NoSuchAttachment):
            life.download(s, who(db, "power"), attachment["id"])
