"""Two nodes end to end: Kamailio in front of two hotline PBXs, a controller per PBX on one
PostgreSQL (node 1's in this process, node 2's a separate ``hotline --node 2 run`` that the test
can kill), the city simulator placing the citizens' calls."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import reactor, threads

from db.models import Agent, AgentStateChange, Bridge, BridgeParticipant, Call, CallbackAttempt
from hotline.ami.client import AMIClient
from hotline.bridge.service import Target
from hotline.controller import Controller
from hotline.directory.service import DirectoryService
from hotline.pbx.database import SharedDatabase
from hotline.pbx.link import node_view
from hotline.pbx.sandbox import Sandbox
from hotline.sim.city import CitySimulator
from tests.scheduler.support import (
    FAST,
    callback_state,
    ensure_agents,
    new_ticket,
    promise_in,
    write,
    write_config,
)
from tests.support.markers import require
from tests.support.pbx import TEST_OVERRIDES, ensure_root, sandbox_config, sandbox_ports
from tests.support.waiting import sleep, until, until_true

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

_SLOT = 3  # this worker's third test sandbox slot (tests/support/pbx.py)


def _overrides() -> dict:
    ports = sandbox_ports(_SLOT)
    return {**ports, "pbx": {**ports["pbx"], "short_prompts": True},
            "cluster": {**ports["cluster"], "nodes": 2},
            # a short after-call work, to see a seat wrapped up on its own PBX after an
            # overflowed call (the queue's guard: 1 s)
            "queue": {"wrapup_s": 2.0, "wrapup_guard_s": 1},
            "scheduler": {**FAST, "enabled": True}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Kamailio, two hotline PBXs (seats 1001, 1002 on node 1; 1003, 1004 on node 2), the city
    and the shared PostgreSQL, stopped at the end even on failure."""
    require("pbx", "the PBX sandbox")
    cfg = sandbox_config(tmp_path_factory.mktemp("cluster"), _overrides())
    ensure_root(cfg)
    sandbox = Sandbox(cfg)
    sandbox.start(log=lambda *_: None)
    try:
        deadline = time.monotonic() + 15
        while sandbox.cli("city", "pjsip show registrations").count("Registered ") < 4:
            assert time.monotonic() < deadline, "agent phones did not register"
            time.sleep(0.1)
        yield sandbox
    finally:
        sandbox.stop(log=lambda *_: None)
        SharedDatabase(sandbox.run_dir).remove()


class ControllerProcess:
    """``hotline --node N run`` as its own process (so it can die by SIGKILL)."""

    def __init__(self, sandbox: Sandbox, node: int, tmp_path: Path) -> None:
        sections = {"site": {"state_dir": str(sandbox.config.state_dir)}}
        for name, values in {**TEST_OVERRIDES, **_overrides()}.items():
            sections.setdefault(name, {}).update(values)
        self.config = write_config(tmp_path / f"node{node}.toml", sections)
        self.node = node
        self.log_path = tmp_path / f"controller-{node}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ControllerProcess:
        env = {k: v for k, v in os.environ.items() if k != "HOTLINE_DATABASE_URL"}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline", "--config", str(self.config),
                 "--node", str(self.node), "run"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _node_of(call: dict) -> int:
    return call["node"]


@pytest_twisted.ensureDeferred
async def test_two_nodes_spread_overflow_and_survive_a_pbx_and_a_controller(cluster, tmp_path):
    """Calls land on both PBXs, a call whose PBX has no free agent is answered by the other's
    and its seat wrapped up on its own PBX once, either console shows both and bridges a department into a call the other PBX holds; a PBX
    killed is out of the rotation within 5 s and new calls go
    to the other; a controller killed hands its scheduler over within 10 s, whose callback
    rings its owner's seat on the other PBX once, and every call row is recorded once."""
    sandbox = cluster
    config = node_view(sandbox.config, 1)
    assert config["database"]["url"].startswith("postgresql")
    # Node 2's controller first, so its scheduler leads; then node 1's, in this process.
    second = ControllerProcess(sandbox, 2, tmp_path).start()
    first = Controller(config=config, reactor=reactor)
    creds = sandbox.secrets()["city_ami"]
    city_ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                         port=sandbox.config["city"]["ami_port"], reactor=reactor)
    city_ami.start()
    city = CitySimulator(ami=city_ami, hotline_number=config["site"]["hotline_number"])
    try:
        await until(lambda: "controller up" in second.log() or second.proc.poll() is not None,
                    timeout=40)
        assert second.proc.poll() is None, second.log()
        await first.start()
        await city_ami.when_ready()
        db = first.db
        await write(db, lambda s: ensure_agents(s, "1001", "1002", "1003", "1004"))
        await until(lambda: not first.scheduler.leading and first.scheduler.leader.shared,
                    timeout=10)

        # -- node 2's seats only: every call is answered by them, those landing on PBX 1 through
        # the overflow (a queue member of PBX 1 that rings the seat through PBX 2).
        for code in ("1003", "1004"):
            _cli(second, "agent", "login", code)
        await until(lambda: sum(a["node"] == 2 and a["state"] == "free"
                                for a in first.calls.agents()) == 2, timeout=15)
        placed = []
        for n in range(2):
            placed.append(await city.call(f"1390000000{n}", hold_s=120))
            await until(lambda: _talking(first, len(placed)), timeout=20)
        calls = [c for c in first.calls.live_calls() if c["state"] == "talking"]
        assert {_node_of(c) for c in calls} == {1, 2}, calls
        assert {c["agent"]["interface"] for c in calls} == {"PJSIP/agent-1003",
                                                           "PJSIP/agent-1004"}
        board = first.calls.wallboard()
        assert board["calls_talking"] == 2 and board["agents_talking"] == 2, board
        on_one = next(c for c in calls if c["node"] == 1)
        # The overflowed call is node 1's record, answered by a seat of node 2.
        await city.hangup(next(p.channel_id for p in placed if p.caller == on_one["caller"]))
        # Its seat's after-call work is held on the seat's own PBX, by node 2's controller (PBX 1
        # rang it through its member ...@peer-2, which stays unpaused), and ends on time.
        seat = on_one["agent"]["interface"]
        await until(lambda: _agent_state(first, 2, seat) == "wrapup", timeout=10, step=0.05)
        member = next(a for a in first.calls.own.agents() if a["interface"] == f"{seat}@peer-2")
        assert member["state"] not in ("paused", "wrapup"), member
        await until(lambda: _agent_state(first, 2, seat) == "free", timeout=10, step=0.05)
        row, code = await until(lambda: _final(db, on_one["caller"]), timeout=20)
        assert seat == f"PJSIP/agent-{code}" and row.answered_at is not None
        # The seat is unpaused before the change is written (AgentService): wait for the row.
        changes: list[str] = []

        async def wrapup_ended() -> bool:
            changes[:] = await db.run(lambda s: _changes(s, code))
            return changes[-1:] == ["wrapup_end"]
        await until_true(wrapup_ended, timeout=10)
        assert changes == ["login", "wrapup", "wrapup_end"]

        # -- a bridge from the other node: controller 1 brings a department into the call PBX 2
        # holds (its rows, participants and room recording written as on one node).
        on_two = next(c for c in calls if c["node"] == 2)
        department = "99900201"
        await city.set_number(department, mode="answer", delay_s=0.5)
        attempt = await first.bridge.bridge(on_two["uniqueid"], Target(
            id=None, name="区自来水公司", number=department))
        assert await attempt.leg.done == "answered"
        room = attempt.room
        await until(lambda: room.in_room("department") and room.in_room("citizen"), timeout=15)
        assert first.bridge.room_of(on_two["uniqueid"]) is room
        await city.hangup(next(p.channel_id for p in placed if p.caller == on_two["caller"]))
        await room.ended_d
        bridge = await until(lambda: _bridge_of(db, room.call_id), timeout=15)
        assert bridge["outcome"] == "answered", bridge
        assert f"PJSIP/agent-{bridge['agent']}" == on_two["agent"]["interface"], bridge
        assert bridge["participants"] == [("agent", None, True), ("citizen", None, True),
                                          ("department", department, True)], bridge
        assert bridge["recording"] and Path(bridge["recording"]).exists(), bridge
        row, code = await until(lambda: _final(db, on_two["caller"]), timeout=20)
        assert row.id == room.call_id and code in ("1003", "1004")

        # -- `hotline --node 2 bridge` on a call PBX 1 holds: the command acts on that PBX.
        for code in ("1001", "1002"):
            await first.agents.login(code)
        await write(db, lambda s: DirectoryService().import_csv(s, _DIRECTORY))
        await city.set_number("99900202", mode="answer", delay_s=0.5)
        one = await _call_on_node(first, city, 1)
        command = subprocess.Popen(
            [sys.executable, "-m", "hotline", "--config", str(second.config), "--node", "2",
             "bridge", one["uniqueid"], "99900202"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        try:
            await until(lambda: _department_joined(db, one["caller"]), timeout=30)
            await city.hangup(one["channel_id"])
            out = await threads.deferToThread(command.communicate, timeout=30)
        finally:
            if command.poll() is None:
                command.kill()
        assert command.returncode == 0, out
        assert "99900202: 已接通 (answered)" in out[0] and "ended: answered" in out[0], out
        row, code = await until(lambda: _final(db, one["caller"]), timeout=20)
        bridge = await until(lambda: _bridge_of(db, row.id), timeout=15)
        assert bridge["outcome"] == "answered" and bridge["agent"] == code, bridge
        assert bridge["participants"] == [("agent", None, True), ("citizen", None, True),
                                          ("department", "99900202", True)], bridge

        # -- a PBX killed: out of the rotation within 5 s, every new call answered on the other.
        lost = await _call_on_node(first, city, 2)
        killed_at = time.monotonic()
        sandbox.kill("pbx2")
        await until(lambda: _rotation(sandbox) == {"127.0.1.1": True, "127.0.1.2": False},
                    timeout=5, step=0.1)
        out_after = time.monotonic() - killed_at
        assert out_after < 5
        after = [await city.call(f"1391111111{n}", hold_s=120) for n in range(2)]
        await until(lambda: sum(c["caller"].startswith("1391111111") and c["state"] == "talking"
                                and c["node"] == 1 for c in first.calls.live_calls()) == 2,
                    timeout=20)
        for p in after:
            await city.hangup(p.channel_id)
        # Its call in progress was lost; recorded once PBX 2 is back (controller 2 reconciles).
        sandbox.revive("pbx2")
        await until(lambda: _rotation(sandbox).get("127.0.1.2"), timeout=10, step=0.1)
        await until(lambda: _final(db, lost["caller"]), timeout=40)

        # -- a controller killed: PBX 2 fails open, node 1's scheduler takes over within 10 s,
        # the callback due meanwhile is placed once.
        # The owner: the seat of node 2 that was not on the lost call (the simulated phone of
        # that one still holds its half of the call PBX 2 dropped without a BYE).
        owner = ({"1003", "1004"} - {lost["agent"]["interface"].rsplit("-", 1)[1]}).pop()
        await until(lambda: any(a["node"] == 2 and a["interface"] == f"PJSIP/agent-{owner}"
                                and a["state"] == "free" for a in first.calls.agents()),
                    timeout=20)
        ticket = await write(db, lambda s: new_ticket(s, "13922220000"))
        await city.set_number("13922220000", mode="answer", delay_s=0.3)
        # Owned by a seat of PBX 2: the leader on node 1 rings it there, no hand-over.
        cb_id = await write(db, lambda s: promise_in(s, ticket, 4.0, owner=owner))
        assert not first.scheduler.leading  # node 2's scheduler leads until it dies
        second.kill()
        killed_at = time.monotonic()
        await until(lambda: first.scheduler.leading, timeout=10, step=0.1)
        took_over = time.monotonic() - killed_at
        assert took_over < 10
        await until(lambda: _attempts(db, cb_id) >= 1, timeout=30)
        await sleep(3)
        cb, attempts, _ = await db.run(lambda s: callback_state(s, cb_id))
        assert len(attempts) == 1, attempts
        await until(lambda: _attempt_of(db, cb_id)[0] is not None, timeout=20)
        outcome, agent = _attempt_of(db, cb_id)
        assert (outcome, agent) == ("answered", owner)
        # The desk's 回拨 pressed by that agent on controller 1's console rings them on PBX 2.
        await until(lambda: any(a["interface"] == f"PJSIP/agent-{owner}" and a["state"] == "free"
                                for a in first.calls.agents()), timeout=20)
        await city.set_number("13922220001", mode="answer", delay_s=0.3)
        later = await write(db, lambda s: new_ticket(s, "13922220001"))
        cb2 = await write(db, lambda s: promise_in(s, later, 3600.0, owner=owner))
        started = await first.scheduler.dial_now(cb2, owner)
        assert (await started.ended).outcome == "answered"
        assert _attempt_of(db, cb2) == ("answered", owner)
        # PBX 2 without its controller still answers: a call landing there reaches agent 1003
        # (or 1004); it is recorded when a controller of node 2 is back, not before.
        before = await db.run(_count_calls)
        late = [await city.call(f"1393333333{n}", hold_s=1.5) for n in range(2)]
        await sleep(5)
        second = ControllerProcess(sandbox, 2, tmp_path).start()
        for p in late:
            await until(lambda p=p: _final(db, p.caller), timeout=40)
        assert await db.run(_count_calls) == before + 2
        for p in late:
            assert await db.run(lambda s, p=p: _rows_of(s, p.caller)) == 1
        print(f"\ncluster: PBX out of rotation after {out_after:.1f} s; scheduler took over "
              f"after {took_over:.1f} s")
    finally:
        second.kill()
        await first.stop()
        await city_ami.stop()


_DIRECTORY = ("name,department_code,department_name,department_kind,number,fallback_numbers,"
              "categories,keywords,service_hours,notes\n"
              "区供电公司,U02,区供电公司,utility,99900202,,供电,停电,24/7,\n")


async def _call_on_node(controller: Controller, city: CitySimulator, node: int) -> dict:
    """Place calls until one talks on ``node``'s PBX (the edge's round robin is not strictly
    alternating); the others are hung up. Returns that call as the view shows it, with the
    city's channel as ``channel_id``."""
    for n in range(4):
        caller = f"139555{node}555{n}"
        placed = await city.call(caller, hold_s=120)
        call = await until(lambda c=caller: next(
            (x for x in controller.calls.live_calls() if x["caller"] == c
             and x["state"] == "talking"), None), timeout=20)
        if call["node"] == node:
            return dict(call, channel_id=placed.channel_id)
        await city.hangup(placed.channel_id)
        await until(lambda c=caller: _final(controller.db, c), timeout=20)
    raise AssertionError(f"no call landed on node {node}")


def _agent_state(controller: Controller, node: int, interface: str) -> str | None:
    """Seat ``interface``'s state on node ``node``'s PBX, as the merged view shows it."""
    return next((a["state"] for a in controller.calls.agents()
                 if a["node"] == node and a["interface"] == interface), None)


def _changes(s, code: str) -> list[str]:
    """The recorded changes of seat ``code``'s state, oldest first."""
    agent = s.scalars(select(Agent).where(Agent.code == code)).one()
    return list(s.scalars(select(AgentStateChange.state)
                          .where(AgentStateChange.agent_id == agent.id)
                          .order_by(AgentStateChange.id)))


def _department_joined(db, caller: str) -> bool:
    """A department has joined the bridge room of the call from ``caller`` (its row says so)."""
    with db.begin() as s:
        return s.scalar(select(func.count()).select_from(BridgeParticipant)
                        .join(Bridge, BridgeParticipant.bridge_id == Bridge.id)
                        .join(Call, Bridge.call_id == Call.id)
                        .where(Call.caller_number == caller,
                               BridgeParticipant.role == "department",
                               BridgeParticipant.joined_at.is_not(None))) > 0


def _bridge_of(db, call_id: int) -> dict | None:
    """The call's one bridge once it has ended, with its parties (role, number, joined)."""
    with db.begin() as s:
        rows = s.scalars(select(Bridge).where(Bridge.call_id == call_id)).all()
        if len(rows) != 1 or rows[0].ended_at is None:
            return None
        b = rows[0]
        return {"outcome": b.outcome, "agent": b.agent_code, "recording": b.recording_path,
                "participants": sorted((p.role, p.number_dialled, p.joined_at is not None)
                                       for p in b.participants)}


def _attempt_of(db, cb_id: int) -> tuple[str | None, str | None]:
    """The callback's one attempt: its outcome (None while open) and the seat rung."""
    with db.begin() as s:
        row = s.scalars(select(CallbackAttempt)
                        .where(CallbackAttempt.callback_id == cb_id)).one()
        agent = s.get(Agent, row.agent_id) if row.agent_id is not None else None
        return row.outcome, agent.code if agent is not None else None


def _cli(process: ControllerProcess, *argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "hotline", "--config", str(process.config),
                           "--node", str(process.node), *argv],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _talking(controller: Controller, count: int) -> bool:
    return sum(c["state"] == "talking" for c in controller.calls.live_calls()) >= count


def _rotation(sandbox: Sandbox) -> dict[str, bool]:
    return {d.uri.split(":")[1]: d.up for d in sandbox.edge.destinations()}


def _final(db, caller: str):
    def query(s):
        row = s.scalars(select(Call).where(Call.caller_number == caller)
                        .order_by(Call.id.desc())).first()
        if row is None or row.ended_at is None:
            return None
        code = row.agent.code if row.agent is not None else None
        s.expunge(row)
        return row, code
    with db.begin() as s:
        return query(s)


def _attempts(db, cb_id: int) -> int:
    with db.begin() as s:
        return s.scalar(select(func.count()).select_from(CallbackAttempt)
                        .where(CallbackAttempt.callback_id == cb_id)) or 0


def _count_calls(s) -> int:
    return s.scalar(select(func.count()).select_from(Call)
                    .where(Call.direction == "inbound")) or 0


def _rows_of(s, caller: str) -> int:
    return s.scalar(select(func.count()).select_from(Call)
                    .where(Call.caller_number == caller)) or 0
