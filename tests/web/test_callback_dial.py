"""The desk's 回拨 button over HTTP, refused: ``POST /api/callbacks/{id}/dial`` answers 4xx with
the reason and an audit entry, and dials nothing; the transcript call answers for a seat with
no call yet. (Dialling for real: tests/scheduler/test_dial_now_integration.py.)"""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import AuditEntry, Callback, CallbackAttempt
from hotline.plugins import web_console
from scheduler import store
from scheduler.service import CallbackScheduler
from tests.scheduler.support import ensure_agents, new_ticket, utcnow
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, sign_in


async def _agent(port: int, username: str = "agent1") -> tuple[HTTP, str]:
    client = HTTP(port)
    await sign_in(client, username, PASSWORDS[username])
    return client, await client.csrf()


def _callback(db, owner: str | None = None, phone: str = "13900000170") -> int:
    with db.begin() as s:
        ensure_agents(s, "1001", "1002")
        return store.promise(s, new_ticket(s, phone), utcnow() + dt.timedelta(hours=1),
                             owner_code=owner, actor="t", timezone="Asia/Shanghai")


def _audit(db, action: str) -> list[tuple[str, str | None, str | None]]:
    with db.begin() as s:
        return [(e.outcome, e.target, (e.details or {}).get("error_id"))
                for e in s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.id))]


def _untouched(db, cb_id: int) -> bool:
    with db.begin() as s:
        cb = s.get(Callback, cb_id)
        attempts = s.scalars(select(CallbackAttempt)
                             .where(CallbackAttempt.callback_id == cb_id)).all()
        return cb.status == "pending" and cb.attempts == 0 and not attempts


@pytest_twisted.ensureDeferred
async def test_dial_without_a_scheduler_csrf_or_seat_is_refused(console, db):
    """Without the CSRF header: 403. A console without a scheduler: 409 naming it, audited.
    A supervisor has no seat to ring: 409. The list says the button cannot dial."""
    cb_id = _callback(db)
    agent, csrf = await _agent(console.port)
    no_token = await agent.post(f"/api/callbacks/{cb_id}/dial")
    assert no_token.status == 403
    refused = await agent.post(f"/api/callbacks/{cb_id}/dial", headers={"X-CSRF-Token": csrf})
    assert refused.status == 409 and refused.json()["error_id"] == "not-running"
    assert "scheduler" in refused.json()["message"]
    listing = (await agent.get("/api/callbacks")).json()
    assert listing["can_dial"] is False and [c["id"] for c in listing["callbacks"]] == [cb_id]
    boss, boss_csrf = await _agent(console.port, "boss")
    seatless = await boss.post(f"/api/callbacks/{cb_id}/dial",
                               headers={"X-CSRF-Token": boss_csrf})
    assert seatless.status == 409 and seatless.json()["error_id"] == "no-seat"
    assert _audit(db, "callback.dial") == [("failed", str(cb_id), "not-running"),
                                           ("failed", str(cb_id), "no-seat")]
    assert _untouched(db, cb_id)


@pytest_twisted.ensureDeferred
async def test_dial_refusals_from_the_scheduler_carry_their_status(db, tmp_path):
    """With a scheduler: an unknown callback is 404, another agent's 403, one being placed or
    ended 409; each is audited with its reason and nothing is dialled or changed."""
    add_users(db)
    cfg = web_config(tmp_path).with_overrides({"scheduler": {"quiet_hours": ""}})
    scheduler = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
    scheduler._running = True  # as start() sets it; every refusal here comes before the PBX
    web = web_console(config=cfg, db=db, reactor=reactor, scheduler=scheduler)
    await web.start()
    try:
        theirs = _callback(db, owner="1002")
        placing = _callback(db, phone="13900000171")
        ended = _callback(db, phone="13900000172")
        with db.begin() as s:
            s.get(Callback, ended).status = "done"
        scheduler._active.add(placing)
        agent, csrf = await _agent(web.port)
        headers = {"X-CSRF-Token": csrf}
        answers = {}
        for name, cb_id in (("unknown", 987_654), ("theirs", theirs), ("placing", placing),
                            ("ended", ended)):
            r = await agent.post(f"/api/callbacks/{cb_id}/dial", headers=headers)
            answers[name] = (r.status, r.json()["error_id"])
        assert (await agent.get("/api/callbacks")).json()["can_dial"] is True
    finally:
        await web.stop()
    assert answers == {"unknown": (404, "no-such-callback"), "theirs": (403, "not-yours"),
                       "placing": (409, "being-placed"), "ended": (409, "already-done")}
    assert [why for _o, _t, why in _audit(db, "callback.dial")] == [
        "no-such-callback", "not-yours", "being-placed", "already-done"]
    assert _untouched(db, theirs) and _untouched(db, placing)
    assert not scheduler._reserved and scheduler._active == {placing}


@pytest_twisted.ensureDeferred
async def test_latest_transcript_of_a_seat_without_calls_is_404(console):
    """A seat that has had no finished call has no transcript to load: 404 saying so; a
    supervisor without a seat: 409."""
    agent, _ = await _agent(console.port)
    r = await agent.get("/api/transcripts/latest")
    assert r.status == 404 and r.json()["error_id"] == "no-call"
    boss, _ = await _agent(console.port, "boss")
    assert (await boss.get("/api/transcripts/latest")).status == 409


class _LiveView:
    """The live call view with one call talking at seat 1001 (what the tracker reports while
    the agent takes a citizen's call)."""

    def live_calls(self):
        from hotline.agents.service import interface_of

        return [{"uniqueid": "1700001000.1", "state": "talking", "caller": "13900000199",
                 "agent": {"interface": interface_of("1001")}}]


@pytest_twisted.ensureDeferred
async def test_dial_while_the_seat_is_on_a_call_is_refused(db, tmp_path):
    """An agent talking to a citizen is not rung for a callback in the middle of it: 409
    "on-a-call", audited, and the scheduler is never asked."""
    add_users(db)
    cfg = web_config(tmp_path)
    scheduler = CallbackScheduler(config=cfg, ami=None, db=db, reactor=reactor, node="t")
    scheduler._running = True
    web = web_console(config=cfg, db=db, reactor=reactor, scheduler=scheduler,
                      calls=_LiveView())
    await web.start()
    try:
        cb_id = _callback(db)
        agent, csrf = await _agent(web.port)
        r = await agent.post(f"/api/callbacks/{cb_id}/dial", headers={"X-CSRF-Token": csrf})
    finally:
        await web.stop()
    assert r.status == 409 and r.json()["error_id"] == "on-a-call"
    assert _audit(db, "callback.dial") == [("failed", str(cb_id), "on-a-call")]
    assert _untouched(db, cb_id) and not scheduler._active
