"""Keep-my-place on the real PBX: three citizens wait, the second presses 1 and hangs up; the
stand-in holds the second place, and once an agent is free the three are served in the order
they arrived: the first on the line, the second called back, the third on the line. Called
back by the dialplan where no scheduler runs (the shared test controller), by the timed-reply
scheduler where one does (its attempts, outcomes and retry)."""

from __future__ import annotations

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import KeptPlace
from hotline.calls.events import CallAnswered
from hotline.controller import Controller
from tests.scheduler.support import FAST, CityWatch, callback_state, ensure_agents, write
from tests.support.hotline import desk_phone_registered
from tests.support.pbx import ami_client
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx

AGENT = "1002"
FIRST, SECOND, THIRD = "13812347001", "13812347002", "13812347003"
#: Numbers of the scheduler's test: callers new to the PBX's call summaries, so none is a
#: repeat caller (whose queue priority would put them ahead regardless of arrival).
S_FIRST, S_SECOND, S_THIRD = "13812347101", "13812347102", "13812347103"


def _kept(db, number: str) -> KeptPlace | None:
    with db.begin() as s:
        row = s.scalars(select(KeptPlace).where(KeptPlace.caller_number == number)
                        .order_by(KeptPlace.id.desc())).first()
        if row is not None:
            s.expunge(row)
        return row


async def _three_wait(ctl, city, numbers: tuple[str, str, str], placed: list) -> None:
    """Three citizens call one after the other (each waiting before the next dials); the
    second presses 1 a few seconds into the queue. Their calls are appended to ``placed``."""
    first, second, third = numbers
    placed.append(await city.call(first, tone="400", hold_s=120))
    await until(lambda: any(c.caller == first and c.state.value == "waiting"
                            for c in ctl.tracker.calls.values()), timeout=30)
    placed.append(await city.call(second, tone="420", dtmf="1", pause_s=4, hold_s=120))
    await until(lambda: any(c.caller == second and c.state.value == "waiting"
                            for c in ctl.tracker.calls.values()), timeout=30)
    placed.append(await city.call(third, tone="440", hold_s=120))


async def _queue(ami) -> list[tuple[int, str, str]]:
    status = await ami.action("QueueStatus", Queue="hotline")
    return sorted((int(m["Position"]), m.get("CallerIDNum", ""), m.get("Channel", ""))
                  for m in status if m.get("Event") == "QueueEntry")


@pytest_twisted.ensureDeferred
async def test_kept_place_is_called_back_in_arrival_order(controller, city):
    """The second caller's 1 ends their call and a stand-in takes exactly their place (between
    the first and the third); an agent logging in then answers the first, is connected to the
    second (dialled back: reached) and then answers the third."""
    ctl = controller
    answered: list[str] = []
    ctl.bus.subscribe(CallAnswered, lambda e: answered.append(
        ctl.tracker.calls[e.uniqueid].caller if e.uniqueid in ctl.tracker.calls else "?"))
    await desk_phone_registered(city, ctl, AGENT)
    await city.set_agent(AGENT, delay_s=0.5, tone="600")
    await city.set_number(SECOND, mode="answer", delay_s=1, tone="500")
    placed = []
    try:
        await _three_wait(ctl, city, (FIRST, SECOND, THIRD), placed)
        row = await until(lambda: _kept(ctl.db, SECOND), timeout=30)
        assert row.status == "waiting" and row.position == 2
        entries = []

        async def settled() -> bool:
            entries[:] = await _queue(ctl.ami)
            return len(entries) == 3
        for _ in range(100):
            if await settled():
                break
            await sleep(0.2)
        assert [num for _pos, num, _ch in entries] == [FIRST, SECOND, THIRD], entries
        assert entries[1][2].startswith(f"Local/kp{row.uniqueid}@"), entries
        # The second citizen's own call is over: their place is kept without them.
        await until(lambda: not any(c.caller == SECOND and c.state.value != "ended"
                                    and not c.channel.startswith("Local/")
                                    for c in ctl.tracker.calls.values()), timeout=20)

        await ctl.agents.login(AGENT)
        for expected in (FIRST, SECOND, THIRD):
            await until(lambda n=expected: answered and answered[-1] == n, timeout=40)
            if expected == SECOND:
                reached = await until(lambda: (r := _kept(ctl.db, SECOND)) is not None
                                      and r.reached_at is not None and r, timeout=40)
                assert reached.agent_code == AGENT and reached.called_at is not None
            await sleep(1)
            await city.hangup_agent(AGENT)
            await until(lambda: ctl.tracker.agents[f"PJSIP/agent-{AGENT}"].state.value
                        in ("free", "ringing", "talking"), timeout=20)
    finally:
        await ctl.agents.logout(AGENT)
        for p in placed:
            try:
                await city.hangup(p.channel_id)
            except Exception:  # noqa: BLE001 - already gone
                pass
        # Whatever is left (a stand-in, a call back) must not keep the seat's phone busy.
        for row in [_kept(ctl.db, SECOND)]:
            if row is not None and row.status == "waiting":
                await ctl.floor.keep_place.cancel(row.uniqueid)
        await city.hangup_number(SECOND)
        await city.hangup_agent(AGENT)
        await city.set_agent(AGENT)
        await city.set_agent(AGENT)
    assert answered[:3] == [FIRST, SECOND, THIRD]
    done = await until(lambda: (r := _kept(ctl.db, SECOND)) is not None
                       and r.ended_at is not None and r, timeout=30)
    assert (done.status, done.outcome) == ("reached", "answer")


@pytest_twisted.async_yield_fixture
async def scheduling_controller(pbx_sandbox, tmp_path):
    """A controller whose timed-reply scheduler runs (test-sized times, a retry 3 s after a
    busy citizen) on a database of its own, leading; stopped after the test."""
    cfg = pbx_sandbox.config.with_overrides({
        "database": {"url": f"sqlite:///{tmp_path / 'hotline.db'}"},
        "scheduler": dict(FAST, enabled=True, retry_initial_s=3.0, max_attempts=2)})
    ctl = Controller(config=cfg, reactor=reactor)
    await ctl.start()
    try:
        await write(ctl.db, lambda s: ensure_agents(s, AGENT))
        await until(lambda: ctl.scheduler.leading, timeout=15)
        yield ctl
    finally:
        await ctl.stop()


@pytest_twisted.ensureDeferred
async def test_kept_place_is_called_back_by_the_scheduler_and_retried(
        scheduling_controller, city, pbx_sandbox):
    """With the scheduler running, the kept place's turn (between the first and the third
    caller) reserves the agent and the scheduler places its callback at once; the citizen is
    busy, the third caller is served, and the scheduler's retry reaches the citizen: two
    attempt rows (busy, answered), the callback done and owned by the agent, the kept place
    reached."""
    ctl = scheduling_controller
    answered: list[tuple[str, float]] = []
    ctl.bus.subscribe(CallAnswered, lambda e: answered.append((
        ctl.tracker.calls[e.uniqueid].caller if e.uniqueid in ctl.tracker.calls else "?",
        reactor.seconds())))
    watch = CityWatch()
    city_events = ami_client(pbx_sandbox, "city")
    city_events.start()
    await city_events.when_ready()
    city_events.subscribe("Newchannel", watch.on_newchannel)
    await desk_phone_registered(city, ctl, AGENT)
    await city.set_agent(AGENT, delay_s=0.5, tone="600")
    await city.set_number(S_SECOND, mode="busy")
    placed = []
    try:
        await _three_wait(ctl, city, (S_FIRST, S_SECOND, S_THIRD), placed)
        row = await until(lambda: _kept(ctl.db, S_SECOND), timeout=30)
        assert row.position == 2
        # The citizen's own call is over (and recorded) before anyone is served.
        await until(lambda: not any(c.caller == S_SECOND and c.state.value != "ended"
                                    and not c.channel.startswith("Local/")
                                    for c in ctl.tracker.calls.values()), timeout=20)

        await ctl.agents.login(AGENT)
        await until(lambda: answered and answered[-1][0] == S_FIRST, timeout=40)
        await sleep(1)
        await city.hangup_agent(AGENT)
        # The stand-in's turn: the scheduler's first attempt finds the citizen busy.
        cb_id = await until(lambda: (r := _kept(ctl.db, S_SECOND)) is not None
                            and r.call_id is not None and _callback_id(ctl, r), timeout=40)
        first = await until(lambda: (a := callback_state_of(ctl, cb_id)[1])
                            and a[0].outcome is not None and a[0], timeout=40)
        assert first.outcome == "busy"
        await city.set_number(S_SECOND, mode="answer", delay_s=0.5, tone="500")
        # The agent goes back to the queue: the third caller is answered next.
        await until(lambda: answered and answered[-1][0] == S_THIRD, timeout=40)
        third_at = answered[-1][1]
        await sleep(1)
        await city.hangup_agent(AGENT)
        cb, attempts, ticket = await until(
            lambda: (st := callback_state_of(ctl, cb_id))[0].status in ("done", "failed")
            and st, timeout=60)
    finally:
        await ctl.agents.logout(AGENT)
        for p in placed:
            try:
                await city.hangup(p.channel_id)
            except Exception:  # noqa: BLE001 - already gone
                pass
        await city.hangup_number(S_SECOND)
        await city.hangup_agent(AGENT)
        await city.set_number(S_SECOND)
        await city.set_agent(AGENT)
        await city_events.stop()
    assert [who for who, _ in answered[:3]] == [S_FIRST, S_SECOND, S_THIRD]
    assert (cb.status, cb.outcome) == ("done", "reached")
    assert [a.outcome for a in attempts] == ["busy", "answered"]
    assert attempts[0].started_at.timestamp() < third_at  # placed at the kept place's turn
    assert attempts[1].started_at >= attempts[0].ended_at
    assert ticket.citizen_id is not None and ticket.promised_reply_at is not None
    assert watch.order().count(f"number {S_SECOND}") == 2
    listed = await ctl.floor.keep_place.listing()
    mine = next(k for k in listed if k["key"] == row.uniqueid)
    assert (mine["status"], mine["agent"], mine["callback"]) == ("reached", AGENT, cb_id)


def _callback_id(ctl, row: KeptPlace) -> int | None:
    from hotline.floor.keepplace import _callback_id as of

    with ctl.db.begin() as s:
        return of(s, s.get(KeptPlace, row.id))


def callback_state_of(ctl, cb_id: int):
    with ctl.db.begin() as s:
        return callback_state(s, cb_id)
