"""Three-way bridging on the real PBX: audio in the room, failures, hang-ups, records."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from db.models import Bridge, Call, CallRecording, TicketEvent
from hotline import phone
from hotline.ami.actions import AMIError
from hotline.bridge.outcomes import REASON_TEXT
from hotline.bridge.records import BRIDGE_EVENT
from hotline.bridge.service import Target
from tests.bridge.conftest import (
    AGENT_HZ,
    CITIZEN_HZ,
    DEPARTMENT_HZ,
    department_heard,
    talking_call,
)
from tests.support.audio import read_samples, tone_power
from tests.support.hotline import wait_final_call
from tests.support.waiting import sleep, until

pytestmark = pytest.mark.pbx

CONTROL_HZ = 2700  # no party plays it: the floor the tones are measured against


def _windows(path: Path, seconds: float = 1.0) -> list[dict[int, float]]:
    """Tone power per window of the file, for the three tones and the control frequency."""
    samples, rate = read_samples(path)
    n = int(rate * seconds)
    return [{f: tone_power(samples[i:i + n], rate, f)
             for f in (CITIZEN_HZ, AGENT_HZ, DEPARTMENT_HZ, CONTROL_HZ)}
            for i in range(0, len(samples) - n + 1, n)]


def _has(window: dict[int, float], freq: int) -> bool:
    """The tone is there: well above the floor, and not a trace beside a loud other tone."""
    loudest = max(window[f] for f in (CITIZEN_HZ, AGENT_HZ, DEPARTMENT_HZ))
    return window[freq] > 30 * (window[CONTROL_HZ] + 1.0) and window[freq] > 0.02 * loudest


def _bridges(db, call_id):
    with db.begin() as s:
        rows = s.scalars(select(Bridge).where(Bridge.call_id == call_id)
                         .order_by(Bridge.id)).all()
        out = []
        for b in rows:
            parts = sorted(((p.role, p.number_dialled, p.outcome, p.joined_at is not None,
                             p.left_at is not None) for p in b.participants),
                           key=lambda t: (t[0], t[1] or ""))
            out.append({"room": b.room, "outcome": b.outcome, "ended": b.ended_at is not None,
                        "recording": b.recording_path, "ticket_id": b.ticket_id,
                        "agent": b.agent_code, "participants": parts})
        return out


def _ticket_bridge_events(db, call_id):
    with db.begin() as s:
        call = s.get(Call, call_id)
        if call is None or call.ticket_id is None:
            return []
        return [e.text for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == call.ticket_id, TicketEvent.action == BRIDGE_EVENT))]


@pytest_twisted.ensureDeferred
async def test_three_way_audio_then_agent_leaves(bridging, city, pbx_sandbox):
    """The department hears citizen and agent while all three talk, and only the citizen once
    the agent left; the bridge, its parties and the room recording are on the call and the
    ticket."""
    ctl = bridging
    number = "99900101"
    await city.ami.when_ready()
    await city.set_number(number, mode="answer", delay_s=1, tone=str(DEPARTMENT_HZ))
    call = await talking_call(ctl, city, caller="13812350001", agent="1001")
    try:
        attempt = await ctl.bridge.bridge(call.call_id, Target(
            id=None, name="区自来水公司", number=number, fallback_numbers=("99905101",)))
        assert await attempt.leg.done == "answered"
        room = attempt.room
        await until(lambda: room.in_room("department") and room.in_room("citizen"), timeout=20)
        await sleep(5)  # three-way
        await ctl.bridge.leave(call.call_id)
        await until(lambda: not room.in_room("agent"), timeout=10)
        await sleep(8)  # citizen and department alone (the room's mixing settles in ~2 s)
        await city.hangup(call.city_channel)
        await room.ended_d
    finally:
        await ctl.agents.logout(call.agent)
        await city.hangup_citizen(call.caller)
    row, _ = await wait_final_call(ctl.db, call.caller)
    assert row.id == call.call_id

    files = department_heard(pbx_sandbox, number)
    assert len(files) == 1
    windows = _windows(files[0])
    trace = "".join("B" if _has(w, CITIZEN_HZ) and _has(w, AGENT_HZ) else
                    "c" if _has(w, CITIZEN_HZ) else "a" if _has(w, AGENT_HZ) else "."
                    for w in windows)
    three_way = [w for w in windows if _has(w, CITIZEN_HZ) and _has(w, AGENT_HZ)]
    assert len(three_way) >= 3, f"never citizen and agent together: {trace}"
    tail = windows[-5:-1]
    assert all(_has(w, CITIZEN_HZ) for w in tail), f"citizen quiet after the agent left: {trace}"
    assert not any(_has(w, AGENT_HZ) for w in tail), f"agent heard after leaving: {trace}"

    bridges = await until(lambda: [b for b in _bridges(ctl.db, call.call_id)
                                   if b["ticket_id"]], timeout=15)
    (bridge,) = bridges
    assert bridge["outcome"] == "answered" and bridge["ended"] and bridge["agent"] == "1001"
    assert bridge["participants"] == [
        ("agent", None, "left", True, True),
        ("citizen", None, "left", True, True),
        ("department", number, "answered", True, True)]
    room_file = Path(bridge["recording"])
    assert room_file.exists() and room_file.stat().st_size > 8000 * 2 * 8
    with ctl.db.begin() as s:
        rooms = s.scalars(select(CallRecording).where(CallRecording.call_id == call.call_id,
                                                      CallRecording.direction == "room")).all()
        assert len(rooms) == 1 and rooms[0].size_bytes > 16000
        voice = Path(rooms[0].path)
    # The "room" file is the department's own voice: its tone, no one else's.
    samples, rate = read_samples(voice)
    assert tone_power(samples, rate, DEPARTMENT_HZ) > 30 * tone_power(samples, rate, CITIZEN_HZ)
    (text,) = _ticket_bridge_events(ctl.db, call.call_id)
    assert "区自来水公司" in text and "已接通" in text


@pytest.mark.parametrize("mode, outcome", [("busy", "busy"), ("congestion", "congestion"),
                                           ("unreachable", "unreachable"),
                                           ("noanswer", "no_answer")])
@pytest_twisted.ensureDeferred
async def test_department_not_reached_is_named_and_fallback_answers(
        bridging, city, pbx_sandbox, mode, outcome):
    """A main number that does not answer is named for the agent, a notice is played into the
    room (citizen and agent keep talking meanwhile) and the entry's fallback number is dialled
    and joins; the citizen hanging up ends the room and releases the department."""
    ctl = bridging
    ctl.bridge.ring_timeout_s = 4.0  # no answer: give up on the main number soon
    suffix = {"busy": "1", "congestion": "2", "unreachable": "3", "noanswer": "4"}[mode]
    main, fallback = f"9990020{suffix}", f"9990520{suffix}"
    await city.ami.when_ready()
    await city.set_number(main, mode=mode)
    await city.set_number(fallback, mode="answer", delay_s=0.5, tone=str(DEPARTMENT_HZ))
    notices: list[str] = []
    sub = ctl.ami.subscribe("ConfbridgeJoin", lambda m: notices.append(m.get("Channel", ""))
                            if m.get("Channel", "").startswith("Local/") else None)
    call = await talking_call(ctl, city, caller=f"1381235010{suffix}", agent="1002")
    try:
        attempt = await ctl.bridge.bridge(call.call_id, Target(
            id=None, name="区供电所", number=main, fallback_numbers=(fallback,)))
        room = attempt.room
        assert await attempt.leg.done == outcome
        assert len(room.legs) == 2 and room.legs[1].number == fallback
        assert await room.legs[1].done == "answered"
        await until(lambda: room.in_room("department"), timeout=20)
        # Agent and citizen were in the room all along: never left alone or in silence.
        assert room.in_room("citizen") and room.in_room("agent")
        assert notices, "no notice was played into the room"
        await sleep(2)
        await city.hangup(call.city_channel)
        await room.ended_d
        # The department's leg is released with the room.
        channels = await ctl.ami.action("CoreShowChannels")
        assert not [m for m in channels if m.get("Event") == "CoreShowChannel"
                    and m.get("Uniqueid", "").startswith(room.name)]
    finally:
        sub.unsubscribe()
        await ctl.agents.logout(call.agent)
        await city.hangup_citizen(call.caller)
    row, _ = await wait_final_call(ctl.db, call.caller)
    assert (row.hungup_by, row.status) == ("citizen", "completed")
    (bridge,) = await until(lambda: [b for b in _bridges(ctl.db, call.call_id)
                                     if b["ticket_id"]], timeout=15)
    assert bridge["outcome"] == "answered"
    assert bridge["participants"] == [
        ("agent", None, "left", True, True),
        ("citizen", None, "left", True, True),
        ("department", main, outcome, False, True),
        ("department", fallback, "answered", True, True)]
    # The ticket's record of the bridge names why the main number failed (it never joined)
    # and that the fallback answered.
    (text,) = _ticket_bridge_events(ctl.db, call.call_id)
    head, *parties = text.splitlines()
    assert head.endswith("：已接通"), text
    assert re.fullmatch(rf"- 部门 {re.escape(phone.mask(main))}: {REASON_TEXT[outcome]} "
                        r"加入 - 离开 \d\d:\d\d:\d\d", parties[2]), text
    assert re.fullmatch(rf"- 部门 {re.escape(phone.mask(fallback))}: 已接通 "
                        r"加入 \d\d:\d\d:\d\d 离开 \d\d:\d\d:\d\d", parties[3]), text


@pytest_twisted.ensureDeferred
async def test_department_hangs_up_first_citizen_back_to_agent_then_queue(
        bridging, city, pbx_sandbox):
    """The department hanging up leaves citizen and agent talking in the room; once the agent
    left a second department, its hang-up sends the citizen back to the queue, not to an empty
    room."""
    ctl = bridging
    first, second = "99900301", "99900302"
    await city.ami.when_ready()
    for n in (first, second):
        await city.set_number(n, mode="answer", delay_s=0.5, tone=str(DEPARTMENT_HZ))
    call = await talking_call(ctl, city, caller="13812350201", agent="1003")
    try:
        attempt = await ctl.bridge.bridge(call.call_id, Target(
            id=None, name="区房管所", number=first, fallback_numbers=(second,)))
        room = attempt.room
        await until(lambda: room.in_room("department"), timeout=20)
        assert await city.hangup_number(first) == 1
        await until(lambda: not room.in_room("department"), timeout=10)
        await sleep(1)
        assert room.in_room("citizen") and room.in_room("agent"), "citizen left without agent"
        # The agent brings the second number in, then leaves; then that department hangs up.
        leg = await ctl.bridge.try_fallback(call.call_id)
        assert leg.number == second and await leg.done == "answered"
        await until(lambda: room.in_room("department"), timeout=20)
        await ctl.bridge.leave(call.call_id)
        await until(lambda: not room.in_room("agent"), timeout=10)
        assert await city.hangup_number(second) == 1

        def queued():
            return [c for c in ctl.calls.waiting() if c["caller"] == call.caller]
        await until(queued, timeout=20)  # back in the queue (the agent's phone rings again)
        await room.ended_d
    finally:
        await ctl.agents.logout(call.agent)
        await city.hangup_citizen(call.caller)
    (bridge,) = await until(lambda: [b for b in _bridges(ctl.db, call.call_id)
                                     if b["ended"]], timeout=15)
    parts = bridge["participants"]
    assert [p[:3] for p in parts if p[0] == "department"] == [
        ("department", first, "answered"), ("department", second, "answered")]




async def _channel_of(ami, uniqueid: str) -> str:
    """The name of the live channel with ``uniqueid`` (waits for it a little)."""
    for _ in range(100):
        reply = await ami.action("CoreShowChannels")
        name = next((m["Channel"] for m in reply if m.get("Event") == "CoreShowChannel"
                     and m.get("Uniqueid") == uniqueid), None)
        if name:
            return name
        await sleep(0.1)
    raise TimeoutError(f"no channel {uniqueid}")


@pytest.mark.parametrize("alone", ["citizen", "other_party"])
@pytest_twisted.ensureDeferred
async def test_leaving_party_requeues_only_the_citizen_alone_in_the_room(bridging, alone):
    """The hangup handler of a party leaving a room (hotline-bridge-left) sends the citizen
    back to the queue only when the one party left in the room is the citizen itself. When the
    citizen hangs up with agent and department in the room, the first of those two to leave
    often still counts the other: the citizen, already out of the room and running its own
    hangup handler, was redirected (inbound-hangup cut short: the call's AstDB summary lost).
    Played here with Local channels, so that moment is certain rather than a race."""
    ami = bridging.ami
    room = f"hbtest-{alone[0]}{secrets.token_hex(3)}"
    ids = {k: f"{room}-{k}" for k in ("p1", "p2", "h1", "h2")}
    moved: list[str] = []
    joined: list[str] = []
    subs = [ami.subscribe("Newexten", lambda m: moved.append(m.get("Uniqueid", ""))
                          if m.get("Context") == "hotline-bridge-requeue" else None),
            ami.subscribe("ConfbridgeJoin", lambda m: joined.append(m.get("Uniqueid", ""))
                          if m.get("Conference") == room else None)]
    try:
        if alone == "citizen":
            # The citizen (the room's marked user) is the one party in the room.
            await ami.action("Originate", Channel=f"Local/{room}@hotline-bridge-citizen/n",
                             Application="Wait", Data="30", Async="true",
                             ChannelId=ids["p1"], OtherChannelId=ids["p2"])
            citizen_uid = ids["p2"]
        else:
            # Someone else is the one party in the room; the citizen is out of it, its room
            # variable still naming the room (as a citizen's does while it hangs up).
            await ami.action("Originate", Channel=f"Local/{room}@hotline-bridge-notice/n",
                             Application="Wait", Data="30", Async="true",
                             Variable=f"HOTLINE_ROOM={room}",
                             ChannelId=ids["p1"], OtherChannelId=ids["p2"])
            citizen_uid = ids["p1"]
        await until(lambda: ids["p2"] in joined, timeout=15)
        citizen = await _channel_of(ami, citizen_uid)
        # The leaving party's hangup handler, run as an agent's or a department's would be.
        await ami.action("Originate", Channel="Local/s@hotline-bridge-left/n",
                         Application="Wait", Data="1", Async="true",
                         Variable=[f"HOTLINE_ROOM={room}", f"HOTLINE_CITIZEN_CHANNEL={citizen}",
                                   "HOTLINE_BRIDGE_ROLE=agent"],
                         ChannelId=ids["h1"], OtherChannelId=ids["h2"])
        if alone == "citizen":
            await until(lambda: citizen_uid in moved, timeout=10)
        else:
            await sleep(2)
            assert citizen_uid not in moved, "a citizen out of the room was sent to the queue"
    finally:
        for sub in subs:
            sub.unsubscribe()
        for uid in ids.values():
            try:
                await bridging.ami.action("Hangup", Channel=uid)
            except AMIError:
                pass  # already gone
