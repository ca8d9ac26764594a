"""Ten bridges at once on the real PBX: ten citizens, each with an agent of their own, bridged
at the same time to municipal numbers (some dialled by two rooms at once), then ended four
ways; every call ends with its own room, the right rows and recordings, and nothing is left
on the PBX."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import defer

from db.models import Bridge, CallRecording
from hotline.ami.actions import AMIError
from hotline.bridge.service import Target
from hotline.calls.model import CallState
from tests.bridge.conftest import AGENT_HZ, CITIZEN_HZ, DEPARTMENT_HZ
from tests.support.hotline import wait_final_call
from tests.support.pbx import running_sandbox, sandbox_config, sandbox_ports
from tests.support.waiting import sleep, until

pytestmark = [pytest.mark.pbx, pytest.mark.xdist_group("ten-agents")]

CALLS = 10
AGENTS = [f"{1101 + i}" for i in range(CALLS)]
#: How each call ends: the agent leaves the room, the agent drops the department, the department
#: hangs up, the citizen hangs up while all three talk (the most racy ending: four of them).
ENDINGS = ("agent_leaves", "department_dropped", "department_hangs_up", "citizen_hangs_up",
           "citizen_hangs_up") * 2


def _ending(i: int) -> str:
    return ENDINGS[i]


def _numbers() -> list[str]:
    """The number each call's room dials: a department that hangs up has a number of its own
    (the city hangs it up by number); the others share three numbers, two or three rooms each."""
    shared = ["99900611", "99900612", "99900613"]
    out, k = [], 0
    for i in range(CALLS):
        if _ending(i) == "department_hangs_up":
            out.append(f"9990062{i}")
        else:
            out.append(shared[k % len(shared)])
            k += 1
    return out


@pytest.fixture(scope="module")
def pbx_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox of this module's own with ten agent phones (the session's has four)."""
    overrides: dict = sandbox_ports(1)
    overrides["queue"] = {"agents": AGENTS}
    with running_sandbox(sandbox_config(tmp_path_factory.mktemp("sandbox-ten"),
                                        overrides)) as sandbox:
        yield sandbox


def _rows(db, call_id: int) -> list[dict]:
    with db.begin() as s:
        rows = s.scalars(select(Bridge).where(Bridge.call_id == call_id)).all()
        return [{"room": b.room, "outcome": b.outcome, "ended": b.ended_at is not None,
                 "ticket_id": b.ticket_id, "agent": b.agent_code,
                 "recording": b.recording_path,
                 "parties": {(p.role, p.number_dialled): (p.outcome, p.joined_at, p.left_at)
                             for p in b.participants}}
                for b in rows]


def _room_files(db, call_id: int) -> list[tuple[str, int]]:
    with db.begin() as s:
        return [(r.path, r.size_bytes) for r in s.scalars(select(CallRecording).where(
            CallRecording.call_id == call_id, CallRecording.direction == "room"))]


async def _pbx_empty(ami) -> tuple[list[str], list[str]]:
    """The PBX's live channels and conference rooms."""
    channels = [m.get("Channel", "") for m in await ami.action("CoreShowChannels")
                if m.get("Event") == "CoreShowChannel"]
    try:
        reply = await ami.action("ConfbridgeListRooms")
        rooms = [m.get("Conference", "") for m in (reply if isinstance(reply, list) else [reply])
                 if m.get("Event") == "ConfbridgeListRooms"]
    except AMIError as e:  # "No active conferences." is an error reply
        if "no active conferences" not in str(e).lower():
            raise
        rooms = []
    return channels, rooms


async def _parties(ami, room: str) -> list[str]:
    """The channels the PBX has in a room, its announcer and recorder left out."""
    reply = await ami.action("ConfbridgeList", Conference=room)
    return [m.get("Channel", "") for m in (reply if isinstance(reply, list) else [reply])
            if m.get("Event") == "ConfbridgeList"
            and not m.get("Channel", "").startswith(("CBAnn/", "CBRec/"))]


async def _settled(check, timeout: float = 20.0):
    """Poll an async ``check`` until it returns something empty; return its last result."""
    waited = 0.0
    while True:
        left = await check()
        if not left or waited >= timeout:
            return left
        await sleep(0.2)
        waited += 0.2


@pytest_twisted.ensureDeferred
async def test_ten_bridges_at_once_end_with_their_own_records(controller, city, pbx_sandbox):
    """Ten talking calls, each with its own agent, bridged at once: ten rooms of three on the
    PBX; after four kinds of endings each call has its bridge row and parties in the right
    order, its room and department recordings, and neither instance keeps a channel or room."""
    ctl = controller
    numbers = _numbers()
    callers = [f"1391235{i:04d}" for i in range(CALLS)]
    await city.ami.when_ready()
    for number in set(numbers):
        await city.set_number(number, mode="answer", delay_s=0.5, tone=str(DEPARTMENT_HZ))
    for agent in AGENTS:
        await city.set_agent(agent, delay_s=0.3, tone=str(AGENT_HZ))
        await ctl.agents.login(agent)
    placed = {}
    # None of these endings leaves a citizen alone in a room: nothing may move a citizen out.
    redirects: list[str] = []
    sub = ctl.ami.subscribe("Newexten", lambda m: redirects.append(
        f"{m.get('Channel')}: {m.get('AppData')}")
        if m.get("Application") == "ChannelRedirect" else None)
    try:
        for caller in callers:
            placed[caller] = await city.call(caller, tone=str(CITIZEN_HZ), hold_s=150)

        def talking():
            calls = {c.caller: c for c in ctl.tracker.calls.values()
                     if c.caller in placed and c.state == CallState.TALKING
                     and c.hotline_call_id}
            return calls if len(calls) == CALLS else None
        calls = await until(talking, timeout=60, step=0.2)
        agents = {calls[c].agent_channel for c in callers}
        assert len(agents) == CALLS, "two calls share an agent"

        # All bridged at the same time.
        attempts = await defer.gatherResults([defer.ensureDeferred(ctl.bridge.bridge(
            int(calls[c].hotline_call_id),
            Target(id=None, name=f"部门{i}", number=numbers[i])))
            for i, c in enumerate(callers)], consumeErrors=True)
        rooms = [a.room for a in attempts]
        assert len({r.name for r in rooms}) == CALLS, "two calls share a room name"
        outcomes = await defer.gatherResults([a.leg.done for a in attempts])
        assert outcomes == ["answered"] * CALLS

        def all_three():
            return all(r.in_room(role) for r in rooms
                       for role in ("citizen", "agent", "department"))
        await until(all_three, timeout=30, step=0.2)
        _, live_rooms = await _pbx_empty(ctl.ami)
        assert sorted(live_rooms) == sorted(r.name for r in rooms)
        for room in rooms:  # three parties in each room, as the PBX itself counts them
            assert len(await _parties(ctl.ami, room.name)) == 3, room.name
        await sleep(3)  # three-way, all ten rooms

        async def end(i: int) -> None:
            room, call_id = rooms[i], int(calls[callers[i]].hotline_call_id)
            how = _ending(i)
            if how == "agent_leaves":
                await ctl.bridge.leave(call_id)
                await until(lambda: not room.in_room("agent"), timeout=15)
                await sleep(2)
                assert room.in_room("citizen") and room.in_room("department")
            elif how == "department_dropped":
                await ctl.bridge.drop_department(call_id)
                await until(lambda: not room.in_room("department"), timeout=15)
                await sleep(2)
                assert room.in_room("citizen") and room.in_room("agent")
            elif how == "department_hangs_up":
                assert await city.hangup_number(numbers[i]) == 1
                await until(lambda: not room.in_room("department"), timeout=15)
                await sleep(2)
                assert room.in_room("citizen") and room.in_room("agent"), \
                    "the citizen lost the agent when the department hung up"
            await city.hangup(placed[callers[i]].channel_id)
            await until(lambda: room.ended, timeout=30, step=0.2)
        await defer.gatherResults([defer.ensureDeferred(end(i)) for i in range(CALLS)],
                                  consumeErrors=True)

        # Nothing is left on the PBX: no party, no announcer, no room.
        async def pbx_left():
            channels, live = await _pbx_empty(ctl.ami)
            return channels + live
        assert not await _settled(pbx_left)
        assert not redirects, f"a citizen who hung up was sent back to the queue: {redirects}"

        # Nor on the city's side: every citizen, agent phone and department leg is released.
        async def city_left():
            return [m.get("Channel") for m in await city.ami.action("CoreShowChannels")
                    if m.get("Event") == "CoreShowChannel"]
        assert not await _settled(city_left)
    finally:
        sub.unsubscribe()
        for agent in AGENTS:
            await ctl.agents.logout(agent)
        for caller in callers:
            await city.hangup_citizen(caller)

    for i, caller in enumerate(callers):
        row, _ = await wait_final_call(ctl.db, caller)
        call_id = int(calls[caller].hotline_call_id)
        assert row.id == call_id
        (bridge,) = await until(lambda c=call_id: [b for b in _rows(ctl.db, c)
                                                   if b["ended"] and b["ticket_id"]], timeout=30)
        assert bridge["room"] == rooms[i].name
        assert bridge["outcome"] == "answered"
        assert bridge["agent"] in AGENTS
        assert calls[caller].agent_interface.endswith(f"-{bridge['agent']}")
        parties = bridge["parties"]
        assert set(parties) == {("citizen", None), ("agent", None), ("department", numbers[i])}
        citizen, agent, department = (parties[("citizen", None)], parties[("agent", None)],
                                      parties[("department", numbers[i])])
        assert (citizen[0], agent[0], department[0]) == ("left", "left", "answered"), _ending(i)
        assert all(p[1] is not None and p[2] is not None and p[1] <= p[2]
                   for p in parties.values())
        how = _ending(i)
        if how == "agent_leaves":
            assert agent[2] < department[2] and agent[2] < citizen[2], how
        elif how in ("department_dropped", "department_hangs_up"):
            assert department[2] < agent[2] and department[2] < citizen[2], how
        else:
            assert citizen[2] <= agent[2] and citizen[2] <= department[2], how
        room_file = Path(bridge["recording"])
        assert room_file.exists() and room_file.stat().st_size > 8000 * 2 * 3, room_file
        (voice, size), = _room_files(ctl.db, call_id)
        assert os.path.exists(voice) and size > 8000, voice
    assert len({b["agent"] for c in callers
                for b in _rows(ctl.db, int(calls[c].hotline_call_id))}) == CALLS
