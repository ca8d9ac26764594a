"""The desk's 回拨 button on the real PBX: an agent presses dial (twice, at once) on a callback
that is not due yet; the scheduler rings the agent's simulated phone, then the citizen, once;
the attempt row, the outcome and the SLA are recorded as for a due attempt, and the desk's
event stream says dialling, then the outcome."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import defer

from db.models import Agent, AuditEntry
from hotline.web import accounts
from tests.scheduler.support import callback_state, new_ticket, promise_in
from tests.scheduler.test_integration import make_harness  # noqa: F401 - the fixture
from tests.support.waiting import until
from tests.web.support import HTTP, EventReader, sign_in

pytestmark = pytest.mark.pbx

CITIZEN = "13900000161"
PASSWORD = "dial-pass-1001"


def _agent_user(s) -> None:
    accounts.create_user(s, "dialler", role="agent", password=PASSWORD,
                         display_name="回拨坐席", agent_code="1001")


@pytest_twisted.ensureDeferred
async def test_dial_places_that_callback_once_and_records_it(make_harness):  # noqa: F811
    """Two presses at once: one 202, one 409 "being placed"; the agent's phone rings, then the
    citizen's, once; one attempt row (this agent, answered), the callback reached within its
    SLA; a press after it ended is refused; the desk was told dialling, then answered."""
    h = await make_harness()
    await h.city.set_agent("1001", delay_s=0.5)
    await h.city.set_number(CITIZEN, mode="answer", delay_s=0.5)
    cb_id = await h.write(lambda s: promise_in(s, new_ticket(s, CITIZEN), 3600))
    await h.write(_agent_user)
    web = h.controller.web
    agent = HTTP(web.port)
    await sign_in(agent, "dialler", PASSWORD)
    csrf = await agent.csrf()
    stream = EventReader(web.port, agent.cookies).start()
    try:
        await until(lambda: stream.named("hello") or None, timeout=10)
        listing = (await agent.get("/api/callbacks")).json()
        assert listing["can_dial"] is True and cb_id in [c["id"] for c in listing["callbacks"]]
        press = f"/api/callbacks/{cb_id}/dial"
        first, second = await defer.gatherResults([
            defer.ensureDeferred(agent.post(press, headers={"X-CSRF-Token": csrf})),
            defer.ensureDeferred(agent.post(press, headers={"X-CSRF-Token": csrf}))])
        answers = sorted([(first.status, first.json().get("error_id")),
                          (second.status, second.json().get("error_id"))],
                         key=lambda a: a[0])
        assert answers == [(202, None), (409, "being-placed")], answers
        accepted = first if first.status == 202 else second
        assert accepted.json()["attempt"] == f"cb-{cb_id}-1"

        def done():
            cb, attempts, _ = h.read(callback_state, cb_id)
            return (cb, attempts) if cb.status in ("done", "failed") else None
        cb, attempts = await until(done, timeout=40)
        ended = await until(lambda: [e for e in stream.named("callback")
                                     if e["state"] == "ended"] or None, timeout=10)
    finally:
        stream.close()
    assert h.watch.order()[:2] == ["agent 1001", f"number {CITIZEN}"]
    assert h.watch.count(f"number {CITIZEN}") == 1 and h.watch.count("agent 1001") == 1
    assert cb.status == "done" and cb.outcome == "reached" and cb.attempts == 1
    assert len(attempts) == 1
    attempt = attempts[0]
    agent_id = h.read(lambda s: s.scalar(select(Agent.id).where(Agent.code == "1001")))
    assert attempt.agent_id == agent_id and attempt.attempt_key == f"cb-{cb_id}-1"
    assert attempt.outcome == "answered" and attempt.citizen_answered_at is not None
    assert attempt.ended_at is not None and attempt.call_id is not None
    assert cb.reached_at == attempt.citizen_answered_at
    # Dialled an hour early: neither late nor past its deadline.
    assert cb.late is False and cb.sla_met is True and cb.sla_deadline_at > cb.due_at
    assert h.scheduler.placed == [(f"cb-{cb_id}-1", "1001", "answered")]
    states = [e["state"] for e in stream.named("callback") if e["id"] == cb_id]
    assert states == ["dialling", "ended"]
    assert ended[0]["outcome"] == "answered" and ended[0]["status"] == "done"
    again = await agent.post(press, headers={"X-CSRF-Token": csrf})
    assert again.status == 409 and again.json()["error_id"] == "already-done"
    audit = h.read(lambda s: [(e.outcome, (e.details or {}).get("attempt"),
                               (e.details or {}).get("error_id"))
                              for e in s.scalars(select(AuditEntry)
                                                 .where(AuditEntry.action == "callback.dial")
                                                 .order_by(AuditEntry.id))])
    assert sorted(audit, key=str) == sorted([("ok", f"cb-{cb_id}-1", None),
                                             ("failed", None, "being-placed"),
                                             ("failed", None, "already-done")], key=str)
    assert not h.scheduler._active and not h.scheduler._reserved
