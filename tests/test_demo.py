"""What `make run` shows a newcomer, run as they would: `hotline demo`, then Ctrl-C."""

from __future__ import annotations

import os
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
