"""The desk's 回拨 button refused: ``CallbackScheduler.dial_now`` on a real database (SQLite and
PostgreSQL) says why a callback may not be dialled now, and changes nothing when it refuses.

No PBX here: every refusal is decided before anything is dialled. The running state and the
attempts in flight are set on the scheduler by hand (a unit test of its bookkeeping); the
integration test (``test_dial_now_integration``) places real calls.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import Callback, CallbackAttempt
from hotline import config as config_mod
from scheduler import store
from scheduler.service import CallbackScheduler
from tests.scheduler.support import ensure_agents, new_ticket, utcnow


def _scheduler(db, tmp_path, *, running: bool = True, **settings) -> CallbackScheduler:
    cfg = config_mod.loads("", source="tests").with_overrides({
        "site": {"state_dir": str(tmp_path)}, "database": {"url": str(db.engine.url)},
        "scheduler": {"quiet_hours": "", **settings}})
    service = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
    service._running = running  # as start() sets it, without an AMI link
    return service


def _callback(db, *, owner: str | None = None, status: str = "pending",
              phone: str = "13900000150") -> int:
    with db.begin() as s:
        ensure_agents(s, "1001", "1002")
        ticket_id = new_ticket(s, phone)
        cb_id = store.promise(s, ticket_id, utcnow() + dt.timedelta(hours=1),
                              owner_code=owner, actor="t", timezone="Asia/Shanghai")
        s.get(Callback, cb_id).status = status
        return cb_id


def _row(db, cb_id: int) -> tuple:
    with db.begin() as s:
        cb = s.get(Callback, cb_id)
        attempts = s.scalars(select(CallbackAttempt).where(
            CallbackAttempt.callback_id == cb_id)).all()
        return (cb.status, cb.attempts, cb.first_attempt_at, cb.next_attempt_at,
                cb.quiet_hours_moved, cb.sla_deadline_at, len(attempts))


async def _refused(service, cb_id: int, agent: str = "1001") -> str:
    with pytest.raises(store.DialRefused) as info:
        await service.dial_now(cb_id, agent)
    assert str(info.value), "a refusal says why"
    return info.value.reason


@pytest_twisted.ensureDeferred
async def test_refused_when_the_scheduler_is_not_running(db, tmp_path):
    """A console whose scheduler is off never dials: refused, the callback untouched."""
    cb_id = _callback(db)
    before = _row(db, cb_id)
    assert await _refused(_scheduler(db, tmp_path, running=False), cb_id) == "not-running"
    assert _row(db, cb_id) == before


@pytest_twisted.ensureDeferred
async def test_refused_when_done_unknown_or_being_placed(db, tmp_path):
    """Ended callbacks, unknown ids and callbacks being placed (by this node or, as the table
    says, by another) are refused and left as they were."""
    service = _scheduler(db, tmp_path)
    done = _callback(db, status="done", phone="13900000151")
    failed = _callback(db, status="failed", phone="13900000152")
    elsewhere = _callback(db, status="in_progress", phone="13900000153")
    here = _callback(db, phone="13900000154")
    rows = {cb: _row(db, cb) for cb in (done, failed, elsewhere, here)}
    assert await _refused(service, done) == "already-done"
    assert await _refused(service, failed) == "already-done"
    assert await _refused(service, 999_999) == "no-such-callback"
    assert await _refused(service, elsewhere) == "being-placed"
    service._active.add(here)  # this node's scheduler is placing it now
    assert await _refused(service, here) == "being-placed"
    assert {cb: _row(db, cb) for cb in rows} == rows
    assert service._active == {here} and not service._reserved


@pytest_twisted.ensureDeferred
async def test_owner_only_callback_of_another_agent_is_refused(db, tmp_path):
    """A callback owned by agent 1002 is not 1001's to dial until it has been handed over."""
    service = _scheduler(db, tmp_path)
    cb_id = _callback(db, owner="1002")
    before = _row(db, cb_id)
    assert await _refused(service, cb_id, "1001") == "not-yours"
    assert _row(db, cb_id) == before
    assert not service._active and not service._reserved
    policy = service.policy
    with db.begin() as s:
        info = store.prepare_dial(s, cb_id, agent_code="1002", now=utcnow(), policy=policy)
        assert info.owner_code == "1002" and info.citizen_phone == "13900000150"
        s.get(Callback, cb_id).handed_over_at = utcnow()
    with db.begin() as s:  # handed over: any agent may take it
        assert store.prepare_dial(s, cb_id, agent_code="1001", now=utcnow(),
                                  policy=policy).handed_over


@pytest_twisted.ensureDeferred
async def test_quiet_hours_and_a_busy_agent_are_refused(db, tmp_path):
    """Inside quiet hours the button is refused and, unlike a due attempt, the callback is not
    moved (nothing changes); an agent whose phone the scheduler is ringing for another callback
    is refused too."""
    local = utcnow().astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    window = (f"{local - dt.timedelta(minutes=1):%H:%M}-"
              f"{local + dt.timedelta(minutes=2):%H:%M}")
    cb_id = _callback(db)
    before = _row(db, cb_id)
    quiet = _scheduler(db, tmp_path, quiet_hours=window)
    assert await _refused(quiet, cb_id) == "quiet-hours"
    assert _row(db, cb_id) == before
    service = _scheduler(db, tmp_path)
    service._reserved.add("1001")
    assert await _refused(service, cb_id, "1001") == "agent-busy"
    assert _row(db, cb_id) == before and not service._active


@pytest_twisted.ensureDeferred
async def test_a_queued_callback_refused_goes_back_to_its_queue(db, tmp_path):
    """A due callback waiting for a free slot is taken by the button; when the press is
    refused (here: another agent's) it goes back to the queue, so the scheduler still
    places it."""
    service = _scheduler(db, tmp_path)
    service.leader.leading = True  # the queue exists only on the leader
    cb_id = _callback(db, owner="1002")
    service._queued.add(cb_id)
    service._waiting.append(cb_id)
    service.settings["max_concurrent"] = 0  # nothing pumps it meanwhile
    assert await _refused(service, cb_id, "1001") == "not-yours"
    assert cb_id in service._queued and list(service._waiting) == [cb_id]
