"""After-call work (话后整理): the tracker's report of a completed queue call and the wrap-up
state, and on the real PBX the pause that keeps the next call away for the configured time or
until the agent ends it early, as the queue and the rows show it."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor
from twisted.internet.task import Clock

from db.models import Agent, AgentStateChange
from hotline.agents import AgentError
from hotline.calls.events import AgentCallCompleted, LegKind
from hotline.calls.model import AgentState
from hotline.calls.tracker import CallTracker
from hotline.controller import Controller
from tests.calls.support import FakeAMI, member
from tests.support.hotline import desk_phone_registered, line_state, wait_final_call
from tests.support.pbx import set_queue_wrapuptime
from tests.support.waiting import until


def test_agent_complete_is_published_and_a_wrapup_pause_shows_as_wrapup():
    """AgentComplete becomes an AgentCallCompleted naming the seat, and a pause with the
    wrap-up reason puts the agent in the wrapup state (整理中), not paused."""
    ami = FakeAMI()
    tracker = CallTracker(ami=ami, clock=Clock(), queue_name="hotline")
    tracker.subscribe()
    seen: list[AgentCallCompleted] = []
    tracker.bus.subscribe(AgentCallCompleted, seen.append)
    ami.deliver(member("QueueMemberAdded"))
    ami.emit("AgentComplete", Queue="hotline", Uniqueid="1700000000.1",
             Interface="PJSIP/agent-1001", MemberName="agent 1001", Reason="caller",
             TalkTime="12", HoldTime="3")
    assert [(e.agent_code, e.reason, e.talk_time) for e in seen] == [("1001", "caller", 12)]
    ami.deliver(member("QueueMemberPause", paused=1, reason="wrapup"))
    (agent,) = tracker.agents.values()
    assert agent.state == AgentState.WRAPUP
    ami.deliver(member("QueueMemberPause", paused=1, reason="lunch"))
    assert agent.state == AgentState.PAUSED


async def _member(ami, code: str) -> dict:
    status = await ami.action("QueueStatus", Queue="hotline")
    return next(m for m in status if m.get("Event") == "QueueMember"
                and m.get("Name") == f"agent {code}")


def _changes(db, code: str) -> list[tuple[str, object]]:
    with db.begin() as s:
        agent = s.scalars(select(Agent).where(Agent.code == code)).one()
        return [(c.state, c.at) for c in s.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
            .order_by(AgentStateChange.id))]


@pytest_twisted.async_yield_fixture
async def wrapup_controller(pbx_sandbox):
    """A controller whose queue has 6 s of after-call work, on a PBX whose queue keeps the
    guard the site's config renders for it (reset when the test is over)."""
    config = pbx_sandbox.config.with_overrides({"queue": {"wrapup_s": 6.0}})
    await set_queue_wrapuptime(pbx_sandbox, config["queue"]["wrapup_guard_s"])
    try:
        ctl = Controller(config=config, reactor=reactor)
        await ctl.start()
        try:
            yield ctl
        finally:
            await ctl.stop()
    finally:
        await set_queue_wrapuptime(pbx_sandbox, 0)



def test_time_left_is_known_while_the_pause_is_on_its_way():
    """While the wrap-up pause is still being asked of the PBX (whose event already shows
    整理中), the time left is known; when the pause is refused, no wrap-up is left behind."""
    from twisted.internet import defer

    from hotline.bus import EventBus
    from hotline.floor.wrapup import WrapUp

    class Agents:
        agents = {"1001": object(), "1002": object()}

        def __init__(self) -> None:
            self.pending: list[defer.Deferred] = []

        def wrap_up(self, code: str) -> defer.Deferred:
            d: defer.Deferred = defer.Deferred()
            self.pending.append(d)
            return d

    clock, bus, agents = Clock(), EventBus(), Agents()
    wrapup = WrapUp(agents=agents, bus=bus, clock=clock, seconds=30.0)  # type: ignore[arg-type]
    for code in ("1001", "1002"):
        defer.ensureDeferred(wrapup._completed(_completed(code)))
    assert wrapup.remaining("1001") == 30.0 and wrapup.remaining("1002") == 30.0
    agents.pending[0].callback(object())  # paused
    agents.pending[1].callback(None)      # paused during the call already: nothing to wrap up
    clock.advance(10)
    assert wrapup.remaining("1001") == 20.0 and wrapup.remaining("1002") is None
    assert list(wrapup._timers) == ["1001"]


def test_ready_pressed_while_the_pause_is_on_its_way_ends_it_once_recorded():
    """The agent presses "ready" when the desk shows 整理中 but before the wrap-up is in the
    records: the end waits for the record and then ends it (it was refused as 'available')."""
    from twisted.internet import defer

    from hotline.bus import EventBus
    from hotline.floor.wrapup import WrapUp

    class Agents:
        agents = {"1001": object()}

        def __init__(self) -> None:
            self.recorded = False
            self.pending: defer.Deferred = defer.Deferred()

        def wrap_up(self, code: str) -> defer.Deferred:
            return self.pending

        async def end_wrap_up(self, code: str) -> str:
            if not self.recorded:
                raise AgentError(f"agent {code} is not in after-call work but available")
            return "available"

    agents = Agents()
    wrapup = WrapUp(agents=agents, bus=EventBus(), clock=Clock(),  # type: ignore[arg-type]
                    seconds=30.0)
    defer.ensureDeferred(wrapup._completed(_completed("1001")))
    ended = defer.ensureDeferred(wrapup.end("1001"))
    assert not ended.called  # waits for the wrap-up's record
    agents.recorded = True
    agents.pending.callback(object())
    assert ended.result == "available"
    assert wrapup.remaining("1001") is None and not wrapup._timers


def test_an_overflowed_calls_wrapup_is_started_once_by_the_seats_own_node():
    """Each node's wrap-up hears both PBXs' completed calls (its own, and the other's passed on
    by its view); a seat's wrap-up is started only by the node whose PBX has the seat's own
    member: 1003 after PBX 1's overflowed call by node 2, 1001 after PBX 2's by node 1, and
    never by the PBX that held the call, even when both nodes know every seat."""
    from twisted.internet import defer

    from hotline.bus import EventBus
    from hotline.floor.wrapup import WrapUp

    class Agents:
        agents = ("1001", "1002", "1003", "1004")

        def __init__(self) -> None:
            self.wrapped: list[str] = []

        def wrap_up(self, code: str) -> defer.Deferred:
            self.wrapped.append(code)
            return defer.succeed(object())

    agents = {1: Agents(), 2: Agents()}
    wrapups = {n: WrapUp(agents=agents[n], bus=EventBus(), clock=Clock(), seconds=15.0, node=n)
               for n in (1, 2)}  # type: ignore[arg-type]
    for holder, interface in ((1, "PJSIP/agent-1003@peer-2"), (2, "PJSIP/agent-1001@peer-1"),
                              (2, "PJSIP/agent-1004"), (1, "PJSIP/agent-1002")):
        event = _completed(interface.split("-", 1)[1].split("@")[0])
        event = replace(event, agent_interface=interface)
        for node, wrapup in wrapups.items():
            seen = event if node == holder else replace(event, node=holder)
            defer.ensureDeferred(wrapup._completed(seen))
    assert agents[1].wrapped == ["1001", "1002"]
    assert agents[2].wrapped == ["1003", "1004"]
    assert wrapups[2].remaining("1003") == 15.0 and wrapups[1].remaining("1003") is None


def _completed(code: str) -> AgentCallCompleted:
    return AgentCallCompleted(uniqueid="1.1", kind=LegKind.INBOUND, at=0.0, agent_interface=f"PJSIP/agent-{code}",
                              agent_code=code, reason="caller", talk_time=5)

@pytest_twisted.ensureDeferred
async def test_wrapup_delays_the_agents_next_call(wrapup_controller, city):
    """The first citizen hangs up while the second waits: the agent is paused as wrapup on the
    queue (整理中 in the live view), recorded, and rung for the second call only after the
    wrap-up's end was recorded, 6 s after its start."""
    ctl = wrapup_controller
    code, first, second = "1002", "13812345101", "13812345102"
    await desk_phone_registered(city, ctl, code)
    await city.set_agent(code, delay_s=0.5, tone="600")
    await ctl.agents.login(code)
    try:
        await city.call(first, tone="400", hold_s=4)
        await until(lambda: any(c.caller == first and c.state.value == "talking"
                                for c in ctl.tracker.calls.values()), timeout=30)
        await city.call(second, tone="450", hold_s=16)
        interface = f"PJSIP/agent-{code}"
        await until(lambda: ctl.tracker.agents[interface].state == AgentState.WRAPUP,
                    timeout=30)
        member = await _member(ctl.ami, code)
        assert (member["Paused"], member["PausedReason"]) == ("1", "wrapup")
        assert ctl.floor.wrapup.remaining(code) is not None
        waiting = [c for c in ctl.tracker.calls.values() if c.caller == second]
        assert waiting and waiting[0].state.value in ("waiting", "arriving")
        row, _ = await wait_final_call(ctl.db, second, timeout=60)
        assert row.answered_at is not None
    finally:
        await ctl.agents.logout(code)
        await city.set_agent(code)
    changes = _changes(ctl.db, code)
    states = [s for s, _ in changes]
    start = max(i for i, s in enumerate(states) if s == "wrapup" and
                i + 1 < len(states) and states[i + 1] == "wrapup_end")
    began, ended = changes[start][1], changes[start + 1][1]
    assert 5.5 <= (ended - began).total_seconds() <= 9
    assert row.answered_at >= ended


@pytest_twisted.ensureDeferred
async def test_the_agent_ends_wrapup_early(wrapup_controller, city):
    """Ended early through the API's service, the wrap-up is over at once: the member is
    unpaused, the records say wrapup then wrapup_end; a second end is refused."""
    ctl = wrapup_controller
    ctl.floor.wrapup.seconds = 600.0
    code, number = "1003", "13812345103"
    await desk_phone_registered(city, ctl, code)
    await city.set_agent(code, delay_s=0.5)
    await ctl.agents.login(code)
    try:
        await city.call(number, tone="400", hold_s=3)
        interface = f"PJSIP/agent-{code}"
        try:
            await until(lambda: ctl.tracker.agents[interface].state == AgentState.WRAPUP,
                        timeout=40)
        except TimeoutError as e:  # say what the seat and the line looked like instead
            raise TimeoutError(f"{e}: seat {code} never in wrap-up; "
                               f"{line_state(ctl)}") from None
        assert 500 < ctl.floor.wrapup.remaining(code) <= 600
        status = await ctl.floor.wrapup.end(code)
        assert status.state == "available"
        assert (await _member(ctl.ami, code))["Paused"] == "0"
        await until(lambda: ctl.tracker.agents[interface].state == AgentState.FREE,
                    timeout=10)
        with pytest.raises(AgentError):
            await ctl.floor.wrapup.end(code)
    finally:
        await ctl.agents.logout(code)
        await city.set_agent(code)
    states = [s for s, _ in _changes(ctl.db, code)]
    assert states[-4:] == ["login", "wrapup", "wrapup_end", "logout"]
