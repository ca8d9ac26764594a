"""The desk's bridge calls (``/api/bridge``) refuse clearly and change nothing: no service, no
seat, no call, someone else's call, bad input, no such entry, a number the entry does not have,
a call that is not talking, a move the PBX refuses, no room; each refusal in the audit log.

The console runs over the real database, the real live call view (``CallTracker``) and the real
``BridgeService``; only the AMI link is the recording fake of the call tests, fed the events
Asterisk 22 sends while a queue call rings and is answered (tests/calls/support.py). What a real
PBX does with an accepted bridge is tests/web/test_browser.py's and tests/bridge/'s to show.
"""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor

from db.models import AuditEntry, Bridge, Call, Department, MunicipalHotline
from hotline.ami.actions import AMIError
from hotline.bridge.service import BridgeService
from hotline.bridge.views import room_view
from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.plugins import web_console
from tests.calls.support import CITIZEN_UID, FakeAMI, agent_leg, citizen, member, message
from tests.web.conftest import PASSWORDS, add_users, web_config
from tests.web.support import HTTP, sign_in

ENTRY_NUMBER, FALLBACK = "99900888", "99905888"


class Desk:
    """A console whose live view and bridge run on a fake AMI link the test feeds."""

    def __init__(self, db, tmp_path) -> None:
        self.ami = FakeAMI()
        self.tracker = CallTracker(ami=self.ami, clock=reactor, queue_name="hotline")
        self.tracker.subscribe()
        config = web_config(tmp_path)
        self.bridge = BridgeService(config=config, ami=self.ami, db=db, reactor=reactor,
                                    tracker=self.tracker)
        self.bridge.subscribe()
        self.web = web_console(config=config, db=db, reactor=reactor,
                               calls=CallService(tracker=self.tracker),
                               bus=self.tracker.bus, bridge=self.bridge)

    def ring(self) -> None:
        """A citizen's call (row id 42) rings agent 1001's phone."""
        self.ami.deliver(member("QueueMemberAdded"))
        self.ami.emit("Newchannel", **citizen(state=4, context="from-city", exten="83658365"))
        self.ami.emit("VarSet", **citizen(), Variable="__HOTLINE_CALL_ID", Value="42")
        self.ami.emit("QueueCallerJoin", **citizen(), Queue="hotline", Position=1, Count=1)
        self.ami.emit("Newchannel", **agent_leg(state=0))
        self.ami.emit("AgentCalled", **citizen(), **agent_leg(prefix="Dest", state=0),
                      Queue="hotline", Interface="PJSIP/agent-1001", MemberName="Agent 1001")

    def answer(self) -> None:
        self.ami.emit("Newstate", **agent_leg(state=6))
        self.ami.emit("QueueCallerLeave", **citizen(), Queue="hotline", Position=1, Count=0)
        self.ami.emit("AgentConnect", **citizen(), **agent_leg(prefix="Dest"), Queue="hotline",
                      Interface="PJSIP/agent-1001", MemberName="Agent 1001", HoldTime=3,
                      RingTime=2)


def _seed(db) -> int:
    """The call's row and one directory entry with a fallback number; returns the entry id."""
    with db.begin() as s:
        s.add(Call(id=42, uniqueid=CITIZEN_UID, linkedid=CITIZEN_UID, direction="inbound",
                   caller_number="13800138000", started_at=dt.datetime.now(dt.UTC)))
        dept = Department(code="W01", name="区水务局")
        hotline = MunicipalHotline(name="区自来水公司", department=dept, number=ENTRY_NUMBER,
                                   fallback_numbers=[FALLBACK], pinyin_initials="qzlsgs")
        s.add_all([dept, hotline])
        s.flush()
        return hotline.id


@pytest_twisted.async_yield_fixture
async def desk(db, tmp_path):
    add_users(db, department=None)
    from hotline.web import accounts

    with db.begin() as s:
        accounts.create_user(s, "agent2", role="agent", password="agent-pass-1002",
                             agent_code="1002")
    d = Desk(db, tmp_path)
    await d.web.start()
    try:
        yield d
    finally:
        await d.web.stop()
        await d.bridge.stop()
        d.tracker.stop()


async def _agent(port: int, username: str = "agent1",
                 password: str = PASSWORDS["agent1"]) -> tuple[HTTP, dict[str, str]]:
    client = HTTP(port)
    await sign_in(client, username, password)
    return client, {"X-CSRF-Token": await client.csrf()}


def _audit(db, actor: str) -> list[tuple[str, str, str | None]]:
    with db.begin() as s:
        return [(e.action, e.outcome, e.details.get("error_id"))
                for e in s.scalars(select(AuditEntry).where(AuditEntry.actor == actor,
                                                            AuditEntry.action.like("bridge.%"))
                                   .order_by(AuditEntry.id))]


@pytest_twisted.ensureDeferred
async def test_without_the_bridge_service_the_calls_say_so(console):
    """A console built without a bridge service answers 503 naming it; the desk page says the
    feature is not connected and shows no 「三方」 button."""
    client, csrf = await _agent(console.port)
    reply = await client.post("/api/bridge", json={"entry": 1}, headers=csrf)
    assert reply.status == 503 and reply.json()["error_id"] == "not-available"
    assert "three-way bridge" in reply.json()["message"]
    assert (await client.get("/api/bridge")).status == 503
    page = (await client.get("/desk")).text
    assert "三方通话功能尚未接入" in page and 'data-bridge="no"' in page


@pytest_twisted.ensureDeferred
async def test_refusals_before_any_call(desk, db):
    """No call at the seat: bridging is refused (409 no-current-call), so are leave, drop and
    fallback (409 no-bridge-room), GET finds no room (404); a seatless supervisor is told they
    have no seat; a liaison is refused the call; no CSRF token, no action; bad bodies are 400
    naming the field. Nothing reached the PBX and every refusal of an action is audited."""
    port = desk.web.port
    client, csrf = await _agent(port)
    reply = await client.post("/api/bridge", json={"entry": 1}, headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "no-current-call")
    assert "没有通话" in reply.json()["message"]
    for action in ("leave", "drop-department", "fallback"):
        reply = await client.post(f"/api/bridge/{action}", headers=csrf)
        assert (reply.status, reply.json()["error_id"]) == (409, "no-bridge-room"), action
    reply = await client.post("/api/bridge/transfer", headers=csrf)
    assert reply.status == 404 and "leave" in reply.json()["message"]
    reply = await client.get("/api/bridge")
    assert (reply.status, reply.json()["error_id"]) == (404, "no-bridge-room")
    assert (await client.post("/api/bridge", json={"entry": 1})).status == 403  # no token
    for body, field in (({}, "entry"), ({"entry": "abc"}, "entry"), ({"entry": True}, "entry"),
                        ({"entry": 0}, "entry"), ({"entry": 1, "number": "12ab5"}, "number"),
                        ({"entry": 1, "call": 7}, "call"), ({"entry": 1, "colour": "red"},
                                                            "colour")):
        reply = await client.post("/api/bridge", json=body, headers=csrf)
        assert reply.status == 400 and field in reply.json()["details"]["fields"], body
    assert (await client.post("/api/bridge", json=[1], headers=csrf)).status == 400

    boss, boss_csrf = await _agent(port, "boss", PASSWORDS["boss"])
    reply = await boss.post("/api/bridge", json={"entry": 1}, headers=boss_csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "no-seat")
    assert desk.ami.sent == []
    assert _audit(db, "agent1") == [("bridge.start", "failed", "no-current-call"),
                                    ("bridge.leave", "failed", "no-bridge-room"),
                                    ("bridge.drop-department", "failed", "no-bridge-room"),
                                    ("bridge.fallback", "failed", "no-bridge-room")]


@pytest_twisted.ensureDeferred
async def test_only_the_agents_own_talking_call_is_bridged(desk, db):
    """A ringing call is not bridgeable yet (409); another agent may neither bridge it by naming
    it (403 not-your-call) nor without naming it (it is not theirs: 409 no-current-call); an
    unknown entry is 404, a number the entry does not have 409. None of it sent anything to the
    PBX or wrote a Bridge row."""
    entry = _seed(db)
    port = desk.web.port
    desk.ring()
    client, csrf = await _agent(port)
    reply = await client.post("/api/bridge", json={"entry": entry}, headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "call-not-bridgeable")
    assert "ringing" in reply.json()["message"]
    desk.answer()
    reply = await client.post("/api/bridge", json={"entry": entry + 1000}, headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (404, "no-such-entry")
    reply = await client.post("/api/bridge", json={"entry": entry, "number": "99900999"},
                              headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "call-not-bridgeable")
    reply = await client.post("/api/bridge", json={"entry": entry, "call": "1718000000.99"},
                              headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (403, "not-your-call")

    other, other_csrf = await _agent(port, "agent2", "agent-pass-1002")
    reply = await other.post("/api/bridge", json={"entry": entry, "call": CITIZEN_UID},
                             headers=other_csrf)
    assert (reply.status, reply.json()["error_id"]) == (403, "not-your-call")
    reply = await other.post("/api/bridge", json={"entry": entry}, headers=other_csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "no-current-call")
    assert desk.ami.sent == [] and desk.bridge.rooms() == []
    with db.begin() as s:
        assert s.scalars(select(Bridge)).first() is None
    assert [a[2] for a in _audit(db, "agent2")] == ["not-your-call", "no-current-call"]


@pytest_twisted.ensureDeferred
async def test_pbx_refusal_changes_nothing_then_a_bridge_and_its_room_rules(desk, db):
    """The PBX refusing to move the call is a 409 and leaves no room; once it moves it, the
    reply and GET show the room (citizen and agent joining, the main number dialled); leaving
    before the department joined and a second bridge are refused, dropping the ringing
    department is done."""
    entry = _seed(db)
    desk.ring()
    desk.answer()
    client, csrf = await _agent(desk.web.port)
    desk.ami.replies["Redirect"] = AMIError(message(None, Response="Error",
                                                    Message="Channel not found"))
    reply = await client.post("/api/bridge", json={"entry": entry, "call": CITIZEN_UID},
                              headers=csrf)
    assert (reply.status, reply.json()["error_id"]) == (409, "call-not-bridgeable")
    assert desk.bridge.rooms() == [] and [n for n, _ in desk.ami.sent] == ["Redirect"]
    del desk.ami.replies["Redirect"]
    desk.ami.sent.clear()

    reply = await client.post("/api/bridge", json={"entry": entry, "call": CITIZEN_UID},
                              headers=csrf)
    assert reply.status == 201, reply.text
    view = reply.json()
    assert view["entry"]["name"] == "区自来水公司" and view["call_uniqueid"] == CITIZEN_UID
    assert [(p["role"], p["state"]) for p in view["participants"]] == [
        ("citizen", "waiting"), ("agent", "waiting"), ("department", "dialling")]
    assert view["numbers_left"] == [FALLBACK] and not view["can_leave"]
    assert [name for name, _ in desk.ami.sent][:2] == ["Redirect", "Originate"]
    # Citizen and agent reach the room (what the PBX reports next).
    for chan in (citizen(), agent_leg()):
        desk.ami.emit("ConfbridgeJoin", Conference=view["room"], **chan)
    got = (await client.get("/api/bridge")).json()
    assert got["room"] == view["room"]
    assert [(p["role"], p["state"]) for p in got["participants"]] == [
        ("citizen", "joined"), ("agent", "joined"), ("department", "dialling")]
    assert got["can_drop"] and not got["can_leave"] and not got["can_fallback"]

    again = await client.post("/api/bridge", json={"entry": entry}, headers=csrf)
    assert (again.status, again.json()["error_id"]) == (409, "call-not-bridgeable")
    leave = await client.post("/api/bridge/leave", headers=csrf)
    assert (leave.status, leave.json()["error_id"]) == (409, "no-bridge-room")
    assert "citizen would be alone" in leave.json()["message"]
    fallback = await client.post("/api/bridge/fallback", headers=csrf)
    assert fallback.status == 409  # the main number still rings
    drop = await client.post("/api/bridge/drop-department", headers=csrf)
    assert drop.status == 200, drop.text
    assert desk.ami.sent[-1][0] == "Hangup"
    room = desk.bridge.room_of(CITIZEN_UID)
    assert room is not None and room_view(room)["room"] == view["room"]
    await desk.bridge.stop()  # let the room's rows be written before the database goes
    assert [(a, o) for a, o, _ in _audit(db, "agent1")] == [
        ("bridge.start", "failed"), ("bridge.start", "ok"), ("bridge.start", "failed"),
        ("bridge.leave", "failed"), ("bridge.fallback", "failed"),
        ("bridge.drop-department", "ok")]


class EventReader:
    """One ``/api/events`` stream read line by line on a worker thread (a browser's
    EventSource, minus the browser)."""

    def __init__(self, port: int, cookies: dict[str, str]) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.resp = None

    def _open(self) -> None:
        self.conn.request("GET", "/api/events", headers={"Cookie": self.cookie})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200

    def _next(self, kind: str) -> dict:
        import json

        event, data = None, None
        while True:
            line = self.resp.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event is not None:
                if event == kind:
                    return json.loads(data)
                event, data = None, None

    async def open(self) -> None:
        from twisted.internet import threads

        await threads.deferToThread(self._open)

    async def next(self, kind: str = "bridge") -> dict:
        from twisted.internet import threads

        return await threads.deferToThread(self._next, kind)

    def close(self) -> None:
        self.conn.close()


def _states(view: dict) -> list[tuple[str, str]]:
    return [(p["role"], p["state"]) for p in view["participants"]]


@pytest_twisted.ensureDeferred
async def test_the_event_stream_pushes_each_change_of_the_room(desk, db):
    """The agent's event stream gets the room as the bridge service sees it after each AMI
    event: dialled, the citizen joined, the department's phone ringing, its busy signal named
    in Chinese with the fallback number dialled next (decided on the service's own timer)."""
    entry = _seed(db)
    desk.ring()
    desk.answer()
    client, csrf = await _agent(desk.web.port)
    stream = EventReader(desk.web.port, client.cookies)
    await stream.open()
    try:
        reply = await client.post("/api/bridge", json={"entry": entry}, headers=csrf)
        room = reply.json()["room"]
        view = await stream.next()
        assert view["room"] == room and _states(view)[2] == ("department", "dialling")
        pushed = [view["version"]]
        desk.ami.emit("ConfbridgeJoin", Conference=room, **citizen())
        view = await stream.next()
        pushed.append(view["version"])
        assert _states(view)[0] == ("citizen", "joined")
        leg = f"{room}-d1"
        desk.ami.emit("Newstate", Channel="PJSIP/city-00000009", ChannelState="5",
                      ChannelStateDesc="Ringing", Uniqueid=leg, Linkedid=leg)
        view = await stream.next()
        pushed.append(view["version"])
        assert _states(view)[2] == ("department", "ringing")
        desk.ami.emit("Hangup", Channel="PJSIP/city-00000009", Uniqueid=leg, Linkedid=leg,
                      Cause="17", **{"Cause-txt": "User busy"})
        while view["failure"] is None:
            view = await stream.next()
            pushed.append(view["version"])
        # Named, and the fallback already dialled by the service (automatic fallback is on).
        assert view["failure"] == {"outcome": "busy", "number": ENTRY_NUMBER, "next": FALLBACK,
                                   "text": f"区自来水公司 {ENTRY_NUMBER} 对方忙"}
        assert view["participants"][2]["state_text"] == "对方忙"
        assert view["participants"][3] == {
            "role": "department", "label": "部门", "number": FALLBACK, "state": "dialling",
            "state_text": "正在呼叫", "outcome": None}
        assert view["can_drop"] is False  # the agent never joined in this test's room
        # Each push is newer than the one before and than the reply: the page keeps the newest.
        assert reply.json()["version"] <= pushed[0] and pushed == sorted(set(pushed))
    finally:
        stream.close()
        await desk.bridge.stop()
