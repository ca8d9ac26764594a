"""Tests for L{hotline.reports.wallboard}: today's figures from the call rows and callbacks, and
the feed that merges them with the live tracker and pushes changes."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from sqlalchemy.orm import Session
from twisted.internet.task import Clock

from db.models import Call, Callback, Citizen, Ticket
from db.session import Database
from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.reports.wallboard import WallboardFeed, database_figures
from tests.calls.support import FakeAMI, citizen, member
from tests.support.waiting import sleep, until

TZ = "Asia/Shanghai"
NOW = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def _seed(session: Session, now: dt.datetime) -> None:
    """Today: 5 answered inbound calls (3 within 20 s: 5, 19.9 and exactly 20 s), 2 abandoned;
    yesterday's call and a callback call are not counted. Callbacks: 2 due within the hour
    (one by its next attempt), 1 overdue, the rest not."""
    today = now - dt.timedelta(hours=2)
    for k, (status, wait) in enumerate([("completed", 5.0), ("completed", 19.9),
                                        ("completed", 20.0), ("completed", 21.0),
                                        ("completed", 60.0), ("abandoned", 30.0),
                                        ("abandoned", 90.0)]):
        session.add(Call(uniqueid=f"t.{k}", linkedid=f"t.{k}", direction="inbound",
                         started_at=today, status=status, queue_wait_s=wait,
                         answered_at=today if status == "completed" else None))
    session.add(Call(uniqueid="y.1", linkedid="y.1", direction="inbound",
                     started_at=now - dt.timedelta(hours=13), status="completed",
                     queue_wait_s=1.0, answered_at=now - dt.timedelta(hours=13)))
    session.add(Call(uniqueid="c.1", linkedid="c.1", direction="callback", started_at=today,
                     status="completed", queue_wait_s=1.0, answered_at=today))
    person = Citizen(phone="13800138000")
    ticket = Ticket(number="RX-W1", kind="help", channel="hotline", status="dispatched",
                    description="x", citizen=person, created_at=today, updated_at=today)
    m = dt.timedelta(minutes=1)
    for status, due, next_attempt in [("pending", now + 30 * m, None),
                                      ("pending", now - 120 * m, now + 45 * m),
                                      ("done", now + 10 * m, None),
                                      ("pending", now + 61 * m, None),
                                      ("cancelled", now - 60 * m, None)]:
        session.add(Callback(ticket=ticket, due_at=due, next_attempt_at=next_attempt,
                             status=status, created_at=today))
    session.commit()


def test_database_figures(session: Session) -> None:
    """Service level = answered within 20 s ÷ (answered + abandoned) for today's inbound calls;
    callbacks due in the next hour count a retry by its next attempt time."""
    _seed(session, NOW)
    f = database_figures(session, NOW, timezone=TZ, service_level_s=20.0)
    assert (f["answered_today"], f["answered_in_time_today"], f["abandoned_today"]) == (5, 3, 2)
    assert f["service_level"] == pytest.approx(3 / 7)
    assert (f["callbacks_due_next_hour"], f["callbacks_overdue"]) == (2, 1)


def _live(db: Database, *, seed: bool = True) -> tuple[Clock, FakeAMI, CallTracker]:
    """A clock at NOW, the seeded rows (unless not), and a tracker on a fake AMI link with
    agent 1001 in the queue."""
    clock = Clock()
    clock.advance(NOW.timestamp())
    if seed:
        with db.begin() as s:
            _seed(s, NOW)
    ami = FakeAMI()
    tracker = CallTracker(ami=ami, clock=clock, queue_name="hotline", linger=5.0)
    tracker.subscribe()
    ami.deliver(member("QueueMemberAdded"))
    return clock, ami, tracker


def _answer(ami: FakeAMI, hold_s: int) -> None:
    """The citizen's call arrives, queues and is answered by agent 1001 after C{hold_s}."""
    from tests.calls.support import AGENT_IF, agent_leg

    ami.emit("Newchannel", **citizen(state=4, context="from-city", exten="83658365"))
    ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
    ami.emit("AgentConnect", **citizen(), **agent_leg(prefix="Dest"), Queue="hotline",
             Interface=AGENT_IF, MemberName="Agent 1001", HoldTime=hold_s, RingTime=2)


@pytest_twisted.ensureDeferred
async def test_feed_pushes_when_the_board_changes(db: Database) -> None:
    """The feed merges the tracker's live figures with the database's and pushes a board when
    something changed (a caller waiting and for how long, an agent paused); an unchanged tick
    pushes nothing."""
    clock, ami, tracker = _live(db)
    feed = WallboardFeed(calls=CallService(tracker=tracker), database=db, timezone=TZ,
                         service_level_s=20.0, interval_s=5.0, clock=clock)
    pushed: list[dict] = []
    feed.add_listener(pushed.append)
    feed.start()
    try:
        first = await until(lambda: pushed and pushed[-1])
        assert (first["calls_waiting"], first["agents_free"]) == (0, 1)
        assert first["callbacks_due_next_hour"] == 2
        assert first["service_level"] == pytest.approx(3 / 7)
        clock.advance(5)  # nothing changed
        await sleep(0.3)
        assert len(pushed) == 1
        ami.emit("Newchannel", **citizen(state=4, context="from-city", exten="83658365"))
        ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
        clock.advance(5)
        second = await until(lambda: len(pushed) >= 2 and pushed[-1])
        assert (second["calls_waiting"], second["longest_wait_s"]) == (1, 5.0)
        ami.deliver(member("QueueMemberPause", paused=1, reason="lunch"))
        clock.advance(5)
        third = await until(lambda: len(pushed) >= 3 and pushed[-1])
        assert (third["agents_free"], third["agents_paused"]) == (0, 1)
        assert third["longest_wait_s"] == 10.0
        assert feed.last == third
    finally:
        feed.stop()
        tracker.stop()


@pytest_twisted.ensureDeferred
async def test_a_call_counts_as_answered_when_the_agent_takes_it(db: Database) -> None:
    """A call counts in today's answered (and in-time) figures from the moment an agent takes
    it, while its row is not written yet, and still once (not twice) after its final row is
    committed and the finaliser says so."""
    from hotline.calls.events import CallFinalised
    from tests.calls.support import CITIZEN_UID

    clock, ami, tracker = _live(db)
    feed = WallboardFeed(calls=CallService(tracker=tracker), database=db, timezone=TZ,
                         service_level_s=20.0, interval_s=5.0, clock=clock)
    try:
        before = await feed.figures()
        assert (before["answered_today"], before["answered_in_time_today"]) == (5, 3)
        _answer(ami, hold_s=4)
        talking = await feed.figures()
        assert (talking["answered_today"], talking["answered_in_time_today"]) == (6, 4)
        assert talking["service_level"] == pytest.approx(4 / 8)
        ami.emit("Hangup", **citizen(), Cause=16, Cause_txt="Normal Clearing")
        with db.begin() as s:  # the finaliser's one unit of work at hangup
            s.add(Call(uniqueid=CITIZEN_UID, linkedid=CITIZEN_UID, direction="inbound",
                       started_at=NOW, status="completed", queue_wait_s=4.0,
                       answered_at=NOW))
        written = await feed.figures()  # the row is in, the finaliser has not said so yet
        assert (written["answered_today"], written["answered_in_time_today"]) == (6, 4)
        tracker.bus.publish(CallFinalised(99, CITIZEN_UID))
        final = await feed.figures()
        assert (final["answered_today"], final["answered_in_time_today"]) == (6, 4)
    finally:
        feed.close()
        tracker.stop()


@pytest_twisted.ensureDeferred
async def test_a_feed_built_mid_call_counts_the_calls_already_talking(db: Database) -> None:
    """A feed built while a call is already talking (a board page opened mid-call) counts it
    as answered from the live view."""
    clock, ami, tracker = _live(db, seed=False)
    _answer(ami, hold_s=30)
    feed = WallboardFeed(calls=CallService(tracker=tracker), database=db, timezone=TZ,
                         service_level_s=20.0, interval_s=5.0, clock=clock)
    try:
        board = await feed.figures()
        assert (board["answered_today"], board["answered_in_time_today"]) == (1, 0)
        assert board["calls_talking"] == 1
    finally:
        feed.close()
        tracker.stop()
