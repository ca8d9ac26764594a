"""Tests for L{hotline.grid.service}: reports filed once per key in the right sub-grid with
photos, visits, verification tasks there and back, daily logs; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.models import ConsoleUser, GridWorker, Ticket, TicketPhoto
from hotline.grid import maps
from hotline.grid.exceptions import (
    GridError,
    InvalidInput,
    NoGridWorker,
    NoSuchTask,
    NotAGridWorker,
    TaskClosed,
)
from hotline.grid.locate import GridLocator
from hotline.grid.mapfile import read_map
from hotline.grid.photos import PhotoStore
from hotline.grid.schemas import load_answer, load_log, load_report, load_visit
from hotline.grid.service import GridWorkerService, day_logs
from hotline.tickets.service import TicketService
from hotline.web import accounts
from tests.grid.support import SUB_POINT, collection, tiny_map
from tests.grid.test_photos import jpeg

NOW = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


@pytest.fixture
def grid(session, tmp_path):
    """The tiny map, a grid worker on T1 and one on T2, and the service on a fixed clock."""
    maps.import_map(session, read_map(collection(tiny_map())), actor="test")
    for name in ("wang", "li"):
        accounts.create_user(session, name, role="grid_worker", password=f"{name}-pass-0001")
    service = GridWorkerService(tickets=TicketService(clock=lambda: NOW),
                                photos=PhotoStore(tmp_path / "photos"), clock=lambda: NOW)
    workers = {name: service.bind(session, name, code, name=name.upper())
               for name, code in (("wang", "T1"), ("li", "T2"))}
    return session, service, workers


def _report(key: str = "report-key-0001", made_at: dt.datetime = NOW, **fields):
    lat, lon = SUB_POINT
    payload = {"key": key, "made_at": made_at.isoformat(), "category": "市容环境",
               "description": "垃圾堆放在路口", "latitude": lat, "longitude": lon, **fields}
    return load_report(payload, now=NOW)


def test_report_becomes_one_ticket_in_its_sub_grid_with_photos(grid) -> None:
    """A report is a grid_worker ticket in the sub-grid of its position with its photo; the
    same key sent again returns that ticket and adds nothing."""
    session, service, workers = grid
    photo = service.photos.prepare(jpeg(1000, 800))
    first = service.report(session, workers["wang"], _report(), [photo], actor="grid:wang")
    again = service.report(session, workers["wang"], _report(), [photo], actor="grid:wang")
    assert first.created and not again.created and again.ticket_id == first.ticket_id
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    ticket = session.get(Ticket, first.ticket_id)
    assert (ticket.channel, ticket.grid.code, ticket.category) == ("grid_worker", "T1-02",
                                                                   "市容环境")
    photos = list(session.scalars(select(TicketPhoto)))
    assert len(photos) == 1 and service.photos.path(photos[0].sha256).exists()


def test_report_made_offline_says_when_it_was_made(grid) -> None:
    """A report that waited on the phone keeps the time it was made, and the ticket says so."""
    session, service, workers = grid
    made = NOW - dt.timedelta(hours=3)
    filed = service.report(session, workers["wang"], _report(made_at=made), [],
                           actor="grid:wang")
    notes = [e.text for e in session.get(Ticket, filed.ticket_id).events if e.action == "note"]
    assert any("手机上 11-26 07:00 记录" in n for n in notes)


def test_report_outside_the_map_goes_to_the_workers_grid(grid) -> None:
    """A position outside every grid files the ticket in the worker's own grid, saying so."""
    session, service, workers = grid
    filed = service.report(session, workers["li"], _report(latitude=10, longitude=10), [],
                           actor="grid:li")
    assert filed.grid == "T2"


def test_a_key_is_one_workers(grid) -> None:
    """Another worker sending a key already used is refused, not shown the first ticket."""
    session, service, workers = grid
    service.report(session, workers["wang"], _report(), [], actor="grid:wang")
    with pytest.raises(GridError, match="another grid worker"):
        service.report(session, workers["li"], _report(), [], actor="grid:li")


def test_verification_there_and_back(grid) -> None:
    """A ticket in T1-02 is sent to T1's worker; a second send while open is refused; the
    answer with a photo is on the task and the ticket; its key again changes nothing; the
    other worker cannot answer it."""
    session, service, workers = grid
    lat, lon = SUB_POINT
    ticket = TicketService(clock=lambda: NOW, locator=GridLocator()).intake(session, {
        "channel": "hotline", "kind": "complaint", "description": "夜间施工噪声",
        "phone": "13800138000", "latitude": lat, "longitude": lon}, actor="1001")
    task = service.send_task(session, ticket.id, actor="boss", note="请核实施工时间")
    assert task.worker_id == workers["wang"].id
    with pytest.raises(TaskClosed):
        service.send_task(session, ticket.id, actor="boss")
    assert [t["ticket"]["number"] for t in service.tasks(session, workers["wang"],
                                                          open_only=True)] == [ticket.number]
    assert service.tasks(session, workers["li"], open_only=True) == []
    answer = load_answer({"key": "answer-key-01", "result": "confirmed",
                          "answer": "现场确有夜间施工"})
    with pytest.raises(NoSuchTask):
        service.answer_task(session, workers["li"], task.id, answer, [], actor="grid:li")
    photo = service.photos.prepare(jpeg(900, 700))
    done, created = service.answer_task(session, workers["wang"], task.id, answer, [photo],
                                        actor="grid:wang")
    assert created and (done.status, done.result) == ("answered", "confirmed")
    _, again = service.answer_task(session, workers["wang"], task.id, answer, [photo],
                                   actor="grid:wang")
    assert not again
    with pytest.raises(TaskClosed):
        service.answer_task(session, workers["wang"], task.id,
                            load_answer({"key": "answer-key-02", "result": "not_found",
                                         "answer": "x"}), [], actor="grid:wang")
    texts = [e.text for e in session.get(Ticket, ticket.id).events]
    assert any(t.startswith("【核实】发网格员 WANG（T1）") for t in texts)
    assert any(t.startswith("【核实反馈】属实：现场确有夜间施工") for t in texts)
    assert session.scalar(select(func.count()).select_from(TicketPhoto)
                          .where(TicketPhoto.task_id == task.id)) == 1


def test_verification_needs_a_grid_with_a_worker(grid) -> None:
    """A ticket without a grid, or in a grid nobody with an account works, cannot be sent."""
    session, service, workers = grid
    loose = TicketService().intake(session, {"channel": "web", "kind": "help",
                                             "description": "x"}, actor="t")
    with pytest.raises(NoGridWorker, match="no grid"):
        service.send_task(session, loose.id, actor="boss")
    workers["li"].user_id = None
    session.flush()
    elsewhere = TicketService().intake(session, {"channel": "web", "kind": "help",
                                                 "description": "x", "grid": "T2-01"},
                                       actor="t")
    with pytest.raises(NoGridWorker, match="T2 has no grid worker"):
        service.send_task(session, elsewhere.id, actor="boss")


def test_visits_are_kept_once_in_the_workers_sub_grid(grid) -> None:
    """A visit is recorded in the sub-grid of its position (inside the worker's grid), once
    per key."""
    session, service, workers = grid
    lat, lon = SUB_POINT
    request = load_visit({"key": "visit-key-001", "subject": "household", "visitee": "3栋501",
                          "notes": "独居老人，身体尚好", "latitude": lat, "longitude": lon},
                         now=NOW)
    visit, created = service.record_visit(session, workers["wang"], request)
    _, again = service.record_visit(session, workers["wang"], request)
    assert created and not again and visit.grid.code == "T1-02"
    assert [v["visitee"] for v in service.visits(session, workers["wang"])] == ["3栋501"]


def test_one_daily_log_per_worker_and_day(grid) -> None:
    """Writing the day's log twice keeps one, rewritten; tomorrow's is refused; the day's logs
    list every worker who wrote one."""
    session, service, workers = grid
    service.write_log(session, workers["wang"], load_log({"text": "上午巡查"}))
    service.write_log(session, workers["wang"], load_log({"text": "上午巡查，下午走访"}))
    service.write_log(session, workers["li"], load_log({"text": "T2 一切正常"}))
    with pytest.raises(InvalidInput, match="day"):
        service.write_log(session, workers["li"], load_log({"text": "x", "day": "2026-11-27"}))
    assert [(g["grid"], g["text"]) for g in day_logs(session, "2026-11-26")] == [
        ("T1", "上午巡查，下午走访"), ("T2", "T2 一切正常")]


def test_binding_rules(grid) -> None:
    """Only a grid_worker account binds, only to a level-1 grid; binding takes over the grid's
    worker record that has no account (the seeded one) instead of adding another."""
    session, service, _ = grid
    accounts.create_user(session, "boss", role="supervisor", password="boss-pass-00001")
    with pytest.raises(GridError, match="not a grid_worker"):
        service.bind(session, "boss", "T1")
    accounts.create_user(session, "zhao", role="grid_worker", password="zhao-pass-00001")
    with pytest.raises(GridError, match="sub-grid"):
        service.bind(session, "zhao", "T1-01")
    grid_t2 = service.workers(session)
    seeded = GridWorker(name="赵敏", grid_id=next(w for w in session.scalars(select(GridWorker))
                                                if w.name == "LI").grid_id)
    session.add(seeded)
    session.flush()
    bound = service.bind(session, "zhao", "T2")
    assert bound.id == seeded.id and bound.name == "赵敏"
    assert len(service.workers(session)) == len(grid_t2) + 1
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "zhao"))
    assert service.worker(session, user.id, "zhao").id == seeded.id
    with pytest.raises(NotAGridWorker):
        service.worker(session, 10_000, "nobody")

