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
from twisted.internet import reactor

from db.models import Call, CallbackAttempt
from hotline.ami.client import AMIClient
from hotline.controller import Controller
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
from tests.support.waiting import sleep, until

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

_SLOT = 3  # this worker's third test sandbox slot (tests/support/pbx.py)


def _overrides() -> dict:
    ports = sandbox_ports(_SLOT)
    return {**ports, "pbx": {**ports["pbx"], "short_prompts": True},
            "cluster": {**ports["cluster"], "nodes": 2},
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
    """Calls land on both PBXs, a call whose PBX has no free agent is answered by the other's,
    either console shows both; a PBX killed is out of the rotation within 5 s and new calls go
    to the other; a controller killed hands its scheduler over within 10 s, with every
    callback placed once and every call row recorded once."""
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
        row, code = await until(lambda: _final(db, on_one["caller"]), timeout=20)
        assert code in ("1003", "1004") and row.answered_at is not None

        # -- a PBX killed: out of the rotation within 5 s, every new call answered on the other.
        for code in ("1001", "1002"):
            await first.agents.login(code)
        lost = next(c for c in calls if c["node"] == 2)
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
        await until(lambda: any(a["node"] == 2 and a["interface"] == "PJSIP/agent-1003"
                                and a["state"] == "free" for a in first.calls.agents()),
                    timeout=20)
        ticket = await write(db, lambda s: new_ticket(s, "13922220000"))
        cb_id = await write(db, lambda s: promise_in(s, ticket, 4.0))
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
