"""The scheduler end to end on the real PBX: promises kept by calls the city simulator sees.

Each test starts the Controller against the sandbox with its own SQLite database, attaches the
scheduler with test-sized times (``support.FAST``), and steers the simulated agent phones and
the citizen's number through the city simulator.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import SchedulerState, SurveyCall, SurveyResult, TicketEvent
from hotline.controller import Controller
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from hotline.tickets.service import TicketService
from tests.scheduler.support import (
    FAST,
    CityWatch,
    callback_state,
    ensure_agents,
    new_ticket,
    promise_in,
    utcnow,
    write,
)
from tests.support.pbx import ami_client
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx


class Harness:
    """A started controller with the scheduler attached, the city, and a ring log."""

    def __init__(self, controller: Controller, scheduler, city: CitySimulator,
                 watch: CityWatch) -> None:
        self.controller, self.scheduler, self.city, self.watch = (controller, scheduler, city,
                                                                  watch)
        self.db = controller.db
        self.members: list[str] = []

    async def in_queue(self, code: str) -> None:
        await self.controller.ami.action("QueueAdd", Queue="hotline",
                                         Interface=f"PJSIP/agent-{code}",
                                         MemberName=f"agent {code}")
        self.members.append(code)

    async def write(self, fn):
        return await write(self.db, fn)

    def read(self, fn, *args):
        with self.db.begin() as s:
            return fn(s, *args)


@pytest_twisted.async_yield_fixture
async def make_harness(pbx_sandbox: Sandbox, tmp_path):
    made: list[Harness] = []

    async def make(timezone: str | None = None, **settings) -> Harness:
        overrides = {"database": {"url": f"sqlite:///{tmp_path / 'hotline.db'}"},
                     "scheduler": dict(FAST, enabled=True, **settings)}
        if timezone is not None:
            overrides["site"] = {"timezone": timezone}
        cfg = pbx_sandbox.config.with_overrides(overrides)
        controller = Controller(config=cfg, reactor=reactor)
        await controller.start()
        city_ami = ami_client(pbx_sandbox, "city")
        city_ami.start()
        await city_ami.when_ready()
        watch = CityWatch()
        city_ami.subscribe("Newchannel", watch.on_newchannel)
        scheduler = controller.scheduler
        h = Harness(controller, scheduler,
                    CitySimulator(ami=city_ami, hotline_number="83658365"), watch)
        made.append(h)
        await h.write(lambda s: ensure_agents(s, "1001", "1002"))
        await until(lambda: scheduler.leading, timeout=10)
        return h

    yield make

    for h in made:
        await h.scheduler.stop()
        for code in h.members:
            await h.controller.ami.action("QueueRemove", Queue="hotline",
                                          Interface=f"PJSIP/agent-{code}")
        await h.controller.stop()
        await h.city.ami.stop()
    await sleep(1.0)  # let the last legs hang up before the next test rings the same phones


def closed_ticket(s, phone: str) -> int:
    """A ticket answered and closed (办结): what leads to a satisfaction survey."""
    ticket_id = new_ticket(s, phone)
    TicketService().reply(s, ticket_id, actor="1001", text="已答复")
    TicketService().close(s, ticket_id, actor="1001")
    return ticket_id


def _survey_results(h: Harness, ticket_id: int):
    def check():
        rows = h.read(lambda s: [(r.outcome, r.score) for r in s.scalars(
            select(SurveyResult).where(SurveyResult.ticket_id == ticket_id))])
        return rows or None
    return check


def _done(h: Harness, cb_id: int):
    def check():
        cb, attempts, ticket = h.read(callback_state, cb_id)
        return (cb, attempts, ticket) if cb.status in ("done", "failed") else None
    return check


@pytest_twisted.ensureDeferred
async def test_promise_due_rings_agent_then_citizen(make_harness):
    """At the due time the agent's phone rings first, then the citizen's; the attempt is
    answered and the callback is reached within its SLA."""
    h = await make_harness()
    await h.in_queue("1001")
    await h.city.set_agent("1001", delay_s=0.5)
    await h.city.set_number("13900000001", mode="answer", delay_s=0.5)
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, "13900000001"), 3))
    cb, attempts, ticket = await until(_done(h, cb_id), timeout=40)
    assert h.watch.order()[:2] == ["agent 1001", "number 13900000001"]
    assert h.watch.count("number 13900000001") == 1
    assert cb.status == "done" and cb.outcome == "reached"
    assert len(attempts) == 1
    first = attempts[0]
    assert first.outcome == "answered" and first.attempt_key == f"cb-{cb_id}-1"
    assert first.citizen_answered_at is not None and first.ended_at is not None
    assert first.started_at >= cb.due_at - dt.timedelta(seconds=1)
    assert first.agent_id is not None
    assert cb.reached_at == first.citizen_answered_at
    assert cb.sla_deadline_at == cb.due_at + dt.timedelta(seconds=FAST["sla_grace_s"])
    assert cb.sla_met is True and cb.late is False, [str(x) for x in (cb.due_at, first.started_at, cb.reached_at, first.ended_at, first.detail)]


@pytest_twisted.ensureDeferred
async def test_citizen_not_answering_is_retried_then_not_reached(make_harness):
    """No answer at the citizen's phone: retried after the backoff, then "not reached" with
    the SLA missed; each attempt keeps its own outcome."""
    h = await make_harness()
    await h.in_queue("1001")
    await h.city.set_agent("1001", delay_s=0.3)
    await h.city.set_number("13900000002", mode="noanswer")
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, "13900000002"), 2))
    cb, attempts, ticket = await until(_done(h, cb_id), timeout=60)
    assert cb.status == "failed" and cb.outcome == "not_reached"
    assert cb.sla_met is False and cb.reached_at is None
    assert [a.outcome for a in attempts] == ["no_answer", "no_answer"]
    gap = (attempts[1].started_at - attempts[0].ended_at).total_seconds()
    assert gap >= FAST["retry_initial_s"] - 0.1
    assert h.watch.count("number 13900000002") == 2
    events = h.read(lambda s: [e.text for e in s.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == cb.ticket_id,
                                  TicketEvent.action == "callback"))])
    assert events and "not reached" in events[0]


def _zone_at_noon() -> str:
    """A fixed-offset zone in which the local hour is now 12 (``Etc/GMT-8`` is UTC+8)."""
    offset = 12 - utcnow().hour  # -11..12: every one exists as Etc/GMT∓N
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest_twisted.ensureDeferred
async def test_quiet_hours_move_the_attempt_to_their_end(make_harness):
    """A callback falling due inside quiet hours is moved to their end (recorded on the row),
    and placed only then. The site's zone is one where it is now noon, so the window (a
    minute ago to 7 s from now) is the same at any hour the test runs."""
    name = _zone_at_noon()
    now = utcnow().astimezone(zoneinfo.ZoneInfo(name))
    start, end = now - dt.timedelta(minutes=1), now + dt.timedelta(seconds=7)
    assert start.date() == end.date()
    h = await make_harness(timezone=name, quiet_hours=f"{start:%H:%M:%S}-{end:%H:%M:%S}")
    await h.in_queue("1001")
    await h.city.set_agent("1001", delay_s=0.3)
    await h.city.set_number("13900000003", mode="answer", delay_s=0.3)
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, "13900000003"), 2))

    def moved():
        cb, attempts, _ = h.read(callback_state, cb_id)
        return cb if cb.quiet_hours_moved else None
    cb = await until(moved, timeout=15)
    quiet_end = end.replace(microsecond=0).astimezone(dt.UTC)
    assert cb.next_attempt_at == quiet_end
    assert h.watch.count("number 13900000003") == 0
    cb, attempts, _ = await until(_done(h, cb_id), timeout=40)
    assert cb.outcome == "reached" and cb.quiet_hours_moved
    assert attempts[0].started_at >= quiet_end


@pytest_twisted.ensureDeferred
async def test_owner_only_callback_is_handed_over(make_harness):
    """The owner (1002) is not in the queue: nobody takes the callback until the hand-over
    time, then the free agent 1001 gets it, and the ticket says so."""
    h = await make_harness()
    await h.in_queue("1001")
    await h.city.set_agent("1001", delay_s=0.3)
    await h.city.set_number("13900000004", mode="answer", delay_s=0.3)
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, "13900000004"), 2,
                                               owner="1002"))
    cb, attempts, _ = await until(_done(h, cb_id), timeout=40)
    assert cb.handed_over_at is not None
    assert cb.handed_over_at >= cb.due_at + dt.timedelta(seconds=FAST["handover_after_s"])
    assert attempts[0].channel == "PJSIP/agent-1001"
    assert h.watch.count("agent 1002") == 0 and h.watch.count("agent 1001") == 1
    texts = h.read(lambda s: [e.text for e in s.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == cb.ticket_id,
                                  TicketEvent.action == "handover"))])
    assert len(texts) == 1 and "1001" in texts[0]


@pytest_twisted.ensureDeferred
async def test_reminders_and_escalation_before_the_due_time(make_harness):
    """Before the due time the department and the owning agent are reminded and, since the
    department has not replied, the supervisor is told; a replied ticket is not escalated."""
    h = await make_harness(remind_department_before_s=5.0, remind_agent_before_s=4.0,
                           escalate_before_s=3.0)
    notices = []
    h.scheduler.on_notice(notices.append)
    def setup(s):
        open_cb = promise_in(s, new_ticket(s, "13900000005", department="D01"), 7, owner="1002")
        replied = new_ticket(s, "13900000006", department="D01")
        TicketService().start_handling(s, replied, actor="D01")
        TicketService().reply(s, replied, actor="D01", text="已修复")
        return open_cb, promise_in(s, replied, 7)
    open_cb, replied_cb = await h.write(setup)
    await until(lambda: {n.kind for n in notices if n.callback_id == open_cb} ==
                {"remind_department", "remind_agent", "escalate"}, timeout=15)
    cb, _, _ = h.read(callback_state, open_cb)
    assert cb.department_reminded_at and cb.agent_reminded_at and cb.escalated_at
    assert cb.department_reminded_at <= cb.escalated_at
    assert cb.escalated_at <= cb.due_at - dt.timedelta(seconds=2)
    escalation = next(n for n in notices if n.kind == "escalate")
    assert "supervisor" in escalation.to and "has not replied" in escalation.text
    actions = h.read(lambda s: sorted(e.action for e in s.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == cb.ticket_id,
                                  TicketEvent.actor == "scheduler"))))
    assert actions == ["escalate", "remind", "remind"]
    other, _, _ = h.read(callback_state, replied_cb)
    assert other.escalated_at is None and other.department_reminded_at is None
    assert not [n for n in notices if n.callback_id == replied_cb]


@pytest_twisted.ensureDeferred
async def test_survey_reads_the_citizens_dtmf_rating(make_harness):
    """Closing a ticket leads to a survey call; the citizen presses 4 and the rating is
    stored on the ticket."""
    h = await make_harness()
    await h.city.set_number("13900000007", mode="answer", delay_s=0.3, dtmf="4")
    await until(lambda: h.read(lambda s: s.get(SchedulerState,
                                               "survey.last_event_id")), timeout=10)
    ticket_id = await h.write(lambda s: closed_ticket(s, "13900000007"))

    assert await until(_survey_results(h, ticket_id), timeout=40) == [("rated", 4)]
    assert h.watch.count("number 13900000007") == 1
    sv = h.read(lambda s: s.scalars(select(SurveyCall)
                                    .where(SurveyCall.ticket_id == ticket_id)).one().status)
    assert sv == "done"


@pytest_twisted.ensureDeferred
async def test_survey_not_answered_is_retried_once_then_no_answer(make_harness):
    """A survey nobody answers is tried twice in all, then recorded as no answer."""
    h = await make_harness()
    await h.city.set_number("13900000008", mode="noanswer")
    await until(lambda: h.read(lambda s: s.get(SchedulerState,
                                               "survey.last_event_id")), timeout=10)
    ticket_id = await h.write(lambda s: closed_ticket(s, "13900000008"))

    assert await until(_survey_results(h, ticket_id), timeout=40) == [("no_answer", None)]
    assert h.watch.count("number 13900000008") == 2


@pytest_twisted.ensureDeferred
async def test_a_callback_cancelled_by_closing_the_ticket_is_never_placed(make_harness):
    """The promise is in the book when the ticket is closed (which cancels its callback):
    at the due time nobody is rung."""
    h = await make_harness(survey_enabled=False)
    await h.in_queue("1001")
    ticket_id, cb_id = await h.write(
        lambda s: (lambda t: (t, promise_in(s, t, 2.5)))(new_ticket(s, "13900000010")))
    await until(lambda: ("place", cb_id) in h.scheduler.book, timeout=5)
    await h.write(lambda s: (TicketService().reply(s, ticket_id, actor="1001", text="已答复"),
                             TicketService().close(s, ticket_id, actor="1001")))
    await sleep(4.0)
    cb, attempts, _ = h.read(callback_state, cb_id)
    assert cb.status == "cancelled" and attempts == []
    assert h.watch.count("agent 1001") == 0 and ("place", cb_id) not in h.scheduler.book


def _ticket_due_soon(s, phone: str, duty: str, *, warn_s: float, due_s: float) -> int:
    """A ticket dispatched to D01 (duty number ``duty``) whose clock is set to turn yellow and
    red within seconds (the working-day rule itself is tested without the PBX)."""
    from db.models import Department, Ticket

    ticket_id = new_ticket(s, phone, department="D01")
    s.scalars(select(Department).where(Department.code == "D01")).one().duty_number = duty
    ticket = s.get(Ticket, ticket_id)
    ticket.warn_at = utcnow() + dt.timedelta(seconds=warn_s)
    ticket.due_at = utcnow() + dt.timedelta(seconds=due_s)
    return ticket_id


def _notices(h: Harness, ticket_id: int, done: int):
    from db.models import DepartmentNotice

    def check():
        rows = h.read(lambda s: [(n.kind, n.call_status, n.call_outcome, n.call_digit,
                                  n.call_attempts) for n in s.scalars(
            select(DepartmentNotice).where(DepartmentNotice.ticket_id == ticket_id)
            .order_by(DepartmentNotice.id))])
        return rows if sum(r[1] == "done" for r in rows) >= done else None
    return check


@pytest_twisted.ensureDeferred
async def test_reminder_call_reaches_the_duty_number_and_its_confirmation_is_recorded(
        make_harness):
    """Before the deadline the department's duty number is called (the city simulator answers
    and presses 1): the reminder is confirmed; after the deadline the 督办 notice is called the
    same way; both notices are pushed to the console's listeners and on the ticket's record."""
    from hotline.web import accounts
    from tests.web.support import HTTP, EventReader, sign_in

    duty = "041100000011"
    h = await make_harness(reminder_ring_s=8.0, reminder_retry_s=1.0, reminder_max_attempts=2)
    pushed = []
    h.scheduler.on_ticket_notice(pushed.append)
    await h.write(lambda s: accounts.create_user(s, "duty-boss", role="supervisor",
                                                 password="duty-boss-pass-1"))
    boss = HTTP(h.controller.web.port)
    await sign_in(boss, "duty-boss", "duty-boss-pass-1")
    page = EventReader(boss.port, boss.cookies, "/api/tickets/stream").start()
    await h.city.set_number(duty, mode="answer", delay_s=0.3, dtmf="1")
    try:
        await until(lambda: page.named("hello"), timeout=10)
        ticket_id = await h.write(lambda s: _ticket_due_soon(s, "13900000021", duty,
                                                              warn_s=1, due_s=6))
        rows = await until(_notices(h, ticket_id, done=2), timeout=90)
        # The supervisor's page was told of both notices and of each call's outcome.
        shown = await until(lambda: [(n["kind"], n["call_outcome"]) for n in
                                     page.named("notice")] if len(page.named("notice")) >= 4
                            else None, timeout=10)
    finally:
        page.close()
    assert ("remind", "confirmed") in shown and ("supervise", "confirmed") in shown
    assert [r[:4] for r in rows] == [("remind", "done", "confirmed", "1"),
                                     ("supervise", "done", "confirmed", "1")]
    assert h.watch.count(f"number {duty}") == 2
    kinds = [(p.notice or {}).get("kind") for p in pushed if p.notice]
    assert "remind" in kinds and "supervise" in kinds
    assert any((p.notice or {}).get("call_outcome") == "confirmed" for p in pushed)
    actions = h.read(lambda s: [e.action for e in s.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                  TicketEvent.actor == "scheduler").order_by(TicketEvent.id))])
    assert actions.count("reminder_call") == 2 and "remind" in actions \
        and "supervise" in actions


@pytest_twisted.ensureDeferred
async def test_reminder_call_not_answered_is_tried_again_then_recorded(make_harness):
    """A duty number nobody answers is called the configured number of times, then the
    reminder's call is recorded as not answered."""
    duty = "041100000012"
    h = await make_harness(reminder_ring_s=3.0, reminder_retry_s=1.0, reminder_max_attempts=2)
    await h.city.set_number(duty, mode="noanswer")
    ticket_id = await h.write(lambda s: _ticket_due_soon(s, "13900000022", duty, warn_s=0.5,
                                                          due_s=3600))
    rows = await until(_notices(h, ticket_id, done=1), timeout=60)
    assert rows == [("remind", "done", "no_answer", None, 2)]
    assert h.watch.count(f"number {duty}") == 2
