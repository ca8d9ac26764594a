"""What `make run` shows a newcomer, run as they would: `hotline demo`, then Ctrl-C."""

from __future__ import annotations

import datetime as dt
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from db.models import Call, MunicipalHotline
from hotline.pbx.sandbox import Sandbox
from tests.support.pbx import sandbox_config, sandbox_ports

READY = "sample calls placed"
HISTORY = {"days": 20, "per_day": 60}
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def _surveys_owed(session) -> list[int]:
    """Scan as the scheduler does (closures since its last scan owe a survey); the tickets
    that owe one."""
    from db.models import SurveyCall
    from hotline import config as config_mod
    from scheduler import store

    settings = dict(config_mod.loads("")["scheduler"], survey_delay_s=0.0)
    store.scan(session, now=NOW, until=NOW + dt.timedelta(days=1), settings=settings)
    return list(session.scalars(select(SurveyCall.ticket_id).order_by(SurveyCall.ticket_id)))


def test_the_sample_history_owes_no_survey(session) -> None:
    """The demo loads its SAMPLE history after the scheduler's first scan: its closed tickets
    are the past, and no scan owes them a survey (they owed hundreds, rung a minute after
    `make run` started, until the line drowned). A ticket closed afterwards still owes one."""
    from hotline.cli.demo import load_history
    from hotline.sample import seed_sample
    from hotline.tickets.service import TicketService
    from tests.scheduler.support import new_ticket

    seed_sample(session)
    assert _surveys_owed(session) == []  # the first scan: it starts from the newest event
    written = load_history(session, today=NOW.date(), timezone="Asia/Shanghai", now=NOW,
                           **HISTORY)
    assert written is not None and written.tickets > 500
    assert _surveys_owed(session) == []
    service = TicketService()
    live = new_ticket(session, "13900000301", department="D01")
    service.accept(session, live, actor="D01")
    service.reply(session, live, actor="D01", text="已办")
    service.close(session, live, actor="1001")
    assert _surveys_owed(session) == [live]


def test_history_loaded_after_the_first_scan_would_owe_surveys(session) -> None:
    """What the demo's loader prevents: the same history written by itself after the first
    scan owes every one of its closed tickets a survey."""
    from db.models import Ticket
    from hotline.indices.history import demo_history
    from hotline.sample import seed_sample

    seed_sample(session)
    assert _surveys_owed(session) == []
    demo_history(session, today=NOW.date(), timezone="Asia/Shanghai", now=NOW, **HISTORY)
    closed = session.scalars(select(Ticket.id).where(Ticket.status == "closed")).all()
    assert len(closed) > 100 and _surveys_owed(session) == sorted(closed)


def _site_file(cfg, path: Path) -> Path:
    from hotline.cli.config import _toml_value

    lines = []
    for section, values in cfg.data.items():
        flat = {k: v for k, v in values.items() if not isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in flat.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.pbx
def test_demo_places_a_sample_call_and_ctrl_c_stops_everything(tmp_path: Path):
    """The demo starts the sandbox and the controller, loads the sample directory, places its
    sample call (recorded in the database), and on Ctrl-C stops the controller and the sandbox
    it started: no Asterisk left, nothing mounted."""
    cfg = sandbox_config(tmp_path / "state", sandbox_ports(2))
    site = _site_file(cfg, tmp_path / "site.toml")
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        # As from a terminal: its own process group, Ctrl-C not ignored (a pytest-xdist worker
        # ignores SIGINT, and a child would inherit that).
        demo = subprocess.Popen([sys.executable, "-m", "hotline", "--config", str(site), "demo",
                                 "--calls", "1"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    sandbox = Sandbox(cfg)
    try:
        deadline = time.monotonic() + 120
        while READY not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        shown = log.read_text(errors="replace")
        assert "console: http://127.0.0.1:" in shown and "sample directory loaded" in shown
        engine = create_engine(cfg.database_url)
        try:
            with engine.connect() as c:
                assert c.scalar(select(Call.id).where(Call.caller_number == "13800138000"))
                assert c.scalar(select(MunicipalHotline.id).limit(1))
        finally:
            engine.dispose()
        os.killpg(demo.pid, signal.SIGINT)
        try:
            status = demo.wait(timeout=45)
        except subprocess.TimeoutExpired:
            status = None
        assert status == 0, "after Ctrl-C:\n" + log.read_text(errors="replace")[-3000:]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        leftover = [s.name for s in sandbox.status().values() if s.running]
        mounts = sandbox.mounts()
        if leftover or mounts:
            sandbox.stop(log=lambda *_: None)
    assert (leftover, mounts) == ([], [])


def _left_running(folder: Path) -> list[str]:
    """Processes whose working directory is inside ``folder`` (the sandbox's Asterisks)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(folder)) and int(pid) != os.getpid():
            found.append(f"{pid} {cmd.strip()[:100]}")
    return found


def _read_until(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """What the process printed up to the first line containing ``text``."""
    seen: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=1.0):
            continue
        line = proc.stdout.readline().decode("utf-8", "replace")
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"the demo never printed {text!r}:\n" + "".join(seen[-30:]))


@pytest.mark.pbx
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_stops_everything_when_its_pipe_reader_is_gone(tmp_path, signum):
    """With its output piped to a reader that dies first, Ctrl-C (or SIGTERM) still stops the
    controller's thread pools and both Asterisk instances, and the process exits."""
    state_dir = tmp_path / "demo"
    state_dir.mkdir()
    cfg = sandbox_config(state_dir, sandbox_ports(2))
    path = _site_file(cfg, tmp_path / "site.toml")
    # As from a terminal: Ctrl-C not ignored (a pytest-xdist worker ignores SIGINT).
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "--config", str(path), "demo",
                             "--calls", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _read_until(proc, "console: http://", timeout=180)
        proc.stdout.close()  # the reader (tee) is gone: every later write is a broken pipe
        proc.send_signal(signum)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            threads = sorted(Path(f"/proc/{proc.pid}/task").glob("*/comm"))
            names = [t.read_text().strip() for t in threads]
            pytest.fail(f"the demo was still running 45 s after the signal; threads {names}; "
                        f"left: {_left_running(state_dir)}")
        assert _left_running(state_dir) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        Sandbox(cfg).stop(log=lambda *_: None)
