"""Shared by the scheduler's integration tests: short times, tickets and promises, and a watch
on the city simulator that records which phones the hotline rang, in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from db.models import Agent, Callback, CallbackAttempt, Department, Ticket
from hotline.sim.callbacks import FAST, CityWatch, Ring  # noqa: F401 - re-exported
from hotline.tickets.service import TicketService

# Test-sized times (FAST) and the city's ring log (CityWatch, Ring) live with the fault suite's
# callbacks, which bench.faults shares and bench/ may not import tests/.


async def write(db: Any, fn: Any) -> Any:
    """Run ``fn(session)`` on ``db``'s thread pool; again if SQLite says another writer won
    (the scheduler writes at the same time)."""
    from sqlalchemy.exc import OperationalError

    from tests.support.waiting import sleep

    for n in range(10):
        try:
            return await db.run(fn)
        except OperationalError as e:
            if "locked" not in str(e) or n == 9:
                raise
            await sleep(0.1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ensure_agents(session: Any, *codes: str) -> dict[str, int]:
    out = {}
    for code in codes:
        agent = session.scalars(select(Agent).where(Agent.code == code)).first()
        if agent is None:
            agent = Agent(code=code, name=f"坐席{code}")
            session.add(agent)
            session.flush()
        out[code] = agent.id
    return out


def new_ticket(session: Any, phone: str, *, department: str | None = None) -> int:
    """A hotline ticket from ``phone``, dispatched to ``department`` (created) if given."""
    service = TicketService()
    if department and not session.scalars(
            select(Department).where(Department.code == department)).first():
        session.add(Department(code=department, name="住建委"))
        session.flush()
    ticket = service.intake(session, {"channel": "hotline", "kind": "complaint",
                                      "description": "楼道灯不亮", "phone": phone},
                            actor="1001")
    if department:
        service.dispatch(session, ticket.id, department=department, actor="1001")
    return ticket.id


def promise_in(session: Any, ticket_id: int, seconds: float, owner: str | None = None) -> int:
    """Promise a reply ``seconds`` from now; returns the callback id."""
    from scheduler.store import promise

    return promise(session, ticket_id, utcnow() + dt.timedelta(seconds=seconds),
                   owner_code=owner, actor="1001", timezone="Asia/Shanghai")


def callback_state(session: Any, cb_id: int) -> tuple[Callback, list[CallbackAttempt], Ticket]:
    cb = session.get(Callback, cb_id)
    attempts = list(session.scalars(select(CallbackAttempt)
                                    .where(CallbackAttempt.callback_id == cb_id)
                                    .order_by(CallbackAttempt.id)))
    ticket = session.get(Ticket, cb.ticket_id)
    for row in (cb, ticket, *attempts):
        session.expunge(row)
    return cb, attempts, ticket


# -- scheduler nodes as subprocesses (``hotline callbacks run``) ------------------------------

def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def write_config(path: Any, sections: dict[str, dict[str, Any]]) -> Any:
    """A site configuration file for a node process (sections of scalars and lists)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, list):
                lines.append(f"{key} = [{', '.join(_toml_value(v) for v in value)}]")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def node_config(tmp_path: Any, sandbox_config: Any, database_url: str,
                **scheduler: Any) -> Any:
    """The sandbox's configuration for a separate node process, on ``database_url``."""
    from tests.support.pbx import TEST_OVERRIDES

    sections: dict[str, dict[str, Any]] = {
        "site": {"state_dir": str(sandbox_config.state_dir)},
        "database": {"url": database_url},
        "scheduler": dict(FAST, **scheduler),
    }
    for name, values in TEST_OVERRIDES.items():
        sections.setdefault(name, {}).update(values)
    sections["scheduler"]["enabled"] = True  # the test sandbox's default is off
    return write_config(tmp_path / "node.toml", sections)


class NodeProcess:
    """One ``hotline callbacks run`` process; its output goes to a file for post-mortems."""

    def __init__(self, config_path: Any, name: str, log_dir: Any) -> None:
        self.config_path, self.name = config_path, name
        self.log_path = log_dir / f"node-{name}.log"
        self.proc: Any = None

    def start(self) -> NodeProcess:
        import os
        import subprocess
        import sys

        env = dict(os.environ)
        env.pop("HOTLINE_DATABASE_URL", None)
        env["PYTHONUNBUFFERED"] = "1"  # the log shows how far a node got, even if it hangs
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline", "--config", str(self.config_path),
                 "callbacks", "run", "--node", self.name],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
