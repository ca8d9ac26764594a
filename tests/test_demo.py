"""`hotline demo` (what `make run` runs) stops everything on Ctrl-C or SIGTERM, even when its
output went to a pipe whose reader died first (`make run 2>&1 | tee log`, then Ctrl-C)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hotline.cli.config import _toml_value
from hotline.config import Config
from hotline.pbx.sandbox import Sandbox
from tests.support.pbx import ports_apart, sandbox_config

pytestmark = pytest.mark.pbx

#: Ports of the demo's own sandbox: the test sandbox's plus this, so both run side by side.
_APART = 300


def _demo_config(state_dir: Path) -> tuple[Config, Path]:
    """A configuration for a demo in ``state_dir`` on ports of its own, and its file."""
    ports = {**ports_apart(_APART), "web": {"port": 0}}
    cfg = sandbox_config(state_dir, {**ports, "scheduler": {"enabled": True}})
    lines = [f'[site]\nstate_dir = "{state_dir}"']
    for section, values in ports.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path = state_dir / "hotline.toml"
    path.write_text("\n".join(lines) + "\n")
    return cfg, path


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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_stops_everything_when_its_pipe_reader_is_gone(tmp_path, signum):
    """With its output piped to a reader that dies first, Ctrl-C (or SIGTERM) still stops the
    controller's thread pools and both Asterisk instances, and the process exits."""
    state_dir = tmp_path / "demo"
    state_dir.mkdir()
    cfg, path = _demo_config(state_dir)
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "--config", str(path), "demo",
                             "--calls", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
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
