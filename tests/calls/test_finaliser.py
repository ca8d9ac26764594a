"""Unit tests of the call finaliser's reading of the calls' domain events (the real-PBX path
is in tests/test_controller.py and tests/bridge/test_integration.py)."""

from __future__ import annotations

import time

import pytest
import pytest_twisted
from twisted.internet import defer

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
