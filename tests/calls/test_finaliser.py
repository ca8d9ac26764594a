"""Unit tests of the call finaliser's reading of the calls' domain events (the real-PBX path
is in tests/test_controller.py and tests/bridge/test_integration.py)."""

from __future__ import annotations

import time

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from hotline.bus import EventBus
from hotline.calls.events import (
    AgentCallCompleted,
    CallAnswered,
    CallArrived,
    CallEnded,
    LegKind,
)
from hotline.calls.finaliser import CallFinaliser
from tests.support.waiting import until


def _answered_call(bus: EventBus, uid: str, now: float) -> None:
    bus.publish(CallArrived(uid, LegKind.INBOUND, now - 30, uid, "13800138000", "PJSIP/city-1"))
    bus.publish(CallAnswered(uid, LegKind.INBOUND, now - 25, "PJSIP/agent-1003", "1003",
                             "PJSIP/agent-1003-1", 5))


def _completed(uid: str, at: float, reason: str) -> AgentCallCompleted:
    return AgentCallCompleted(uid, LegKind.INBOUND, at, "PJSIP/agent-1003", "1003", reason, 25)


def _ended(uid: str, at: float, reason: str | None) -> CallEnded:
    return CallEnded(uid, LegKind.INBOUND, at, uid, "13800138000", 16, "Normal Clearing",
                     reason)


@pytest.mark.parametrize("order", ["complete-first", "hangup-first", "complete-unknown"])
@pytest_twisted.ensureDeferred
async def test_who_hung_up_whichever_of_agentcomplete_and_hangup_comes_first(db, order):
    """Asterisk raises AgentComplete from app_queue's own stasis subscription, so on a loaded
    PBX the caller's Hangup can come first: the reason is still taken while the row waits for
    the recordings. Without any AgentComplete, an answered call's row says nobody knows."""
    bus = EventBus()
    finaliser = CallFinaliser(bus=bus, db=db, settle_s=0.3)
    finaliser.subscribe()
    rows: list[int] = []
    finalised: defer.Deferred[None] = defer.Deferred()
    finaliser.on_finalised(lambda call_id: (rows.append(call_id), finalised.callback(None)))
    uid, now = f"pbx-{order}", time.time()
    _answered_call(bus, uid, now)
    if order == "complete-first":
        bus.publish(_completed(uid, now, "caller"))
        bus.publish(_ended(uid, now, "caller"))
    elif order == "hangup-first":
        bus.publish(_ended(uid, now, None))
        assert finaliser.is_following(uid)
        bus.publish(_completed(uid, now + 0.05, "caller"))
    else:
        bus.publish(_ended(uid, now, None))
    await finalised
    await until(lambda: not finaliser.is_following(uid), timeout=5)
    # A late AgentComplete after the row is written changes nothing and does not raise.
    bus.publish(_completed(uid, now + 5, "agent"))
    from db.models import Call
    with db.begin() as s:
        row = s.get(Call, rows[0])
        assert (row.uniqueid, row.status, row.answered_at is not None) == (uid, "completed", True)
        expected = None if order == "complete-unknown" else "citizen"
        assert row.hungup_by == expected


@pytest_twisted.ensureDeferred
async def test_an_agentcomplete_later_than_the_settling_still_names_who_hung_up(db):
    """On a loaded PBX the queue's AgentComplete can come well after the caller's Hangup,
    later than the recordings take to close: the answered call's row waits for it, and is
    written as soon as it comes (not at the end of the longest wait)."""
    from db.models import Call

    bus = EventBus()
    finaliser = CallFinaliser(bus=bus, db=db, settle_s=0.3, batch_s=0.1, complete_wait_s=60)
    finaliser.subscribe()
    rows: list[int] = []
    finaliser.on_finalised(rows.append)
    uid, now = "pbx-late-complete", time.time()
    _answered_call(bus, uid, now)
    bus.publish(_ended(uid, now, None))
    # Beyond settle_s and the batch window: the row would have been written without it.
    await deferLater(reactor, 1.0, lambda: None)
    assert rows == [] and finaliser.is_following(uid)
    bus.publish(_completed(uid, now + 1.0, "caller"))
    await until(lambda: rows != [], timeout=10)
    with db.begin() as s:
        assert s.get(Call, rows[0]).hungup_by == "citizen"


@pytest_twisted.ensureDeferred
async def test_calls_ending_together_share_a_unit_and_a_refused_one_costs_only_itself(db):
    """Five calls that end within the batch window are written in one unit of work; when that
    unit fails (here an unguarded final step's statement fails for one call: on PostgreSQL
    that aborts the transaction, so the unit must fail rather than commit nothing), every
    call is written again in a unit of its own: only that one is not written (it is logged,
    and left to the reconciler); the others have their rows."""
    from sqlalchemy import select, text

    from db.models import Call

    bus = EventBus()
    finaliser = CallFinaliser(bus=bus, db=db, settle_s=0.1, batch_s=0.3)
    finaliser.subscribe()
    units: list[int] = []
    real_run = db.run

    def counting_run(fn, *args, **kwargs):
        if fn.__name__ == "_final_units":
            units.append(len(args[2]))
        return real_run(fn, *args, **kwargs)
    db.run = counting_run  # type: ignore[method-assign]

    def refuse(session, row) -> None:
        if row.uniqueid == "pbx-batch-2":
            session.execute(text("SELECT no_such_column FROM call"))  # fails the unit
    finaliser.add_step(refuse, guarded=False)
    written: list[int] = []
    finaliser.on_finalised(written.append)
    now = time.time()
    uids = [f"pbx-batch-{i}" for i in range(5)]
    for uid in uids:
        _answered_call(bus, uid, now)
        bus.publish(_ended(uid, now, "caller"))
    await until(lambda: not any(finaliser.is_following(u) for u in uids), timeout=10)
    assert units[0] == 5 and sorted(units[1:]) == [1, 1, 1, 1, 1], units
    with db.begin() as s:
        final = set(s.scalars(select(Call.uniqueid).where(Call.ended_at.is_not(None))))
    assert final == set(uids) - {"pbx-batch-2"}
    assert len(written) == 4
