"""Fixtures that build (if needed), start and stop the real PBX sandbox for the test run.

The test sandbox uses its own ports and run directory, so it can run beside a `make run`
sandbox on the same machine, and each pytest-xdist worker runs one of its own on ports of its
own (``sandbox_ports``). It is stopped and unmounted at the end even when tests fail, and the
controlling process sweeps whatever a worker that could not clean up left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet import threads

from hotline import config as config_mod
from hotline.pbx import rootfs
from hotline.pbx.sandbox import Sandbox

#: Two test runs on one machine (two developers) set HOTLINE_TEST_PORT_SHIFT to keep apart.
_SHIFT = int(os.environ.get("HOTLINE_TEST_PORT_SHIFT", "0"))
#: pytest-xdist's worker number (gw0 -> 0); 0 without xdist. Each worker runs its own sandbox.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
#: Sandboxes one worker may run at once: the session's (slot 0), tests' own (1, 2, 3) and the
#: spare one of the fault suite and the queue tests (4, for the session once started).
SLOTS = 5


def sandbox_ports(slot: int = 0) -> dict[str, dict[str, int]]:
    """Ports of a test sandbox in ``slot`` of this worker, apart from every other worker's, the
    other slots' and a running `make run` (15xxx, RTP 20000-29999).

    TCP ports (AMI, HTTP, FastAGI) sit in a block of 100 per sandbox from 16000; the UDP SIP
    ports too, never inside any sandbox's RTP range (30000 and up). The session's sandbox gets
    1,250 RTP ports per instance (a 200-call burst holds ~600), the others 100."""
    n = WORKER * SLOTS + slot
    sig = 16000 + _SHIFT + 100 * n
    if slot == 0:
        width, rtp = 1250, 30000 + _SHIFT + 2500 * WORKER
    else:
        width, rtp = 100, 50000 + _SHIFT + 200 * n
    return {
        "pbx": {"sip_port": sig + 60, "ami_port": sig + 38, "http_port": sig + 88,
                "rtp_start": rtp, "rtp_end": rtp + width - 1},
        "city": {"sip_port": sig + 70, "phones_port": sig + 80, "ami_port": sig + 39,
                 "rtp_start": rtp + width, "rtp_end": rtp + 2 * width - 1},
        "agi": {"port": sig + 90},
        # A cluster sandbox's SIP edge (Kamailio); its PBXs use the ports above on their own
        # addresses.
        "cluster": {"edge_port": sig + 50},
    }


TEST_OVERRIDES = {
    **sandbox_ports(0),
    # The console of every test controller listens on a free port (``controller.web.port``).
    "web": {"port": 0},
    # Test controllers share one database; only the scheduler's own tests (each on its own
    # database) turn the scheduler on, so no other test's promise is ever dialled.
    "scheduler": {"enabled": False},
    # No after-call work between one agent's calls, except in the tests that set it
    # (tests/floor/): most tests hand an agent call after call.
    "queue": {"wrapup_s": 0.0},
    # Live captions only where a test turns them on (tests/floor/test_captions.py); the
    # AudioSocket server on a free port when it does.
    "captions": {"enabled": False, "port": 0},
    # The menu after the greeting (查询工单进度请按2) waits this long for a key before the call
    # queues; tests/agi/test_status.py lengthens it (the MENU_WAIT global) while it runs.
    "status_line": {"menu_wait_s": 0.2},
}
#: Prompts are 0.3 s of silence in tests (a greeting of ~10 s per call, a department's
#: introduction of ~12 s per bridge otherwise); tests/pbx/test_prompts.py keeps the real ones.
TEST_OVERRIDES["pbx"]["short_prompts"] = True


def sandbox_config(state_dir: Path, overrides: dict | None = None) -> config_mod.Config:
    """A configuration for a test sandbox living in ``state_dir``."""
    cfg = config_mod.loads("", source="tests").with_overrides(
        {"site": {"state_dir": str(state_dir)}})
    cfg = cfg.with_overrides(TEST_OVERRIDES)
    return cfg.with_overrides(overrides) if overrides else cfg


class RawAMI:
    """A blocking, minimal AMI session for sandbox checks (the controller uses hotline.ami).

    It exists so the sandbox can be tested on its own: it speaks just enough AMI to log in,
    send an action and collect what comes back.
    """

    def __init__(self, port: int, username: str, secret: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.banner = self._read_line()
        self._counter = 0
        reply = self.action("Login", Username=username, Secret=secret)
        if reply.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {reply}")

    def _read_line(self) -> str:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("AMI closed the connection")
        self.buf += data

    def read_message(self) -> dict[str, str]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        msg: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            msg[key.strip()] = value.strip()
        return msg

    def send(self, name: str, **headers: str) -> str:
        self._counter += 1
        action_id = f"test-{self._counter}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    def action(self, name: str, **headers: str) -> dict[str, str]:
        action_id = self.send(name, **headers)
        while True:
            msg = self.read_message()
            if msg.get("ActionID") == action_id and "Response" in msg:
                return msg

    def wait_event(self, predicate, timeout: float = 15.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            msg = self.read_message()
            if "Event" in msg and predicate(msg):
                return msg
        raise TimeoutError("no matching AMI event")

    def close(self) -> None:
        try:
            self.send("Logoff")
        finally:
            self.sock.close()


def ensure_root(cfg: config_mod.Config) -> None:
    """Build the cached root when missing (CI builds it in `make test` before pytest)."""
    rootfs.build_root(cfg.pbx_root, suite=cfg["pbx"]["suite"], mirror=cfg["pbx"]["mirror"])


@pytest.fixture(scope="session")
def pbx_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The real hotline PBX and city simulator, started once for the session."""
    with running_sandbox(sandbox_config(tmp_path_factory.mktemp("sandbox"))) as sandbox:
        yield sandbox


async def set_queue_wrapuptime(sandbox: Sandbox, seconds: int) -> None:
    """Give the running sandbox's hotline queue its own ``wrapuptime``, as the PBX's config is
    rendered for a site with after-call work (``queue.wrapup_guard_s``: it keeps the next call
    away until the controller's wrap-up pause arrives). The session's sandbox is rendered with
    after-call work off (0); the dynamic members stay (only the queue's parameters reload)."""
    await threads.deferToThread(_set_queue_wrapuptime, sandbox, seconds)


def _set_queue_wrapuptime(sandbox: Sandbox, seconds: int) -> None:
    path = sandbox.var_dir / "pbx" / "etc" / "queues.conf"
    text, found = re.subn(r"(?m)^wrapuptime = \d+$", f"wrapuptime = {int(seconds)}",
                          path.read_text())
    if found != 1:
        raise RuntimeError(f"no single wrapuptime line in {path}")
    path.write_text(text)
    sandbox.cli("pbx", "queue reload parameters hotline")


#: The spare sandbox's queue: short enough that overflow and faults show within a test.
SPARE_QUEUE = {"max_length": 3, "max_wait_s": 6, "overflow": "callback",
               "overflow_callback_in_s": 60.0}


@pytest.fixture(scope="session")
def spare_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A second PBX sandbox (ports apart) for tests that restart or starve it, and that need a
    short queue (SPARE_QUEUE); the session's own sandbox is never touched by them."""
    overrides = {**sandbox_ports(4), "queue": SPARE_QUEUE}
    with running_sandbox(sandbox_config(tmp_path_factory.mktemp("spare"), overrides)) as sandbox:
        yield sandbox


@contextlib.contextmanager
def running_sandbox(cfg: config_mod.Config) -> Iterator[Sandbox]:
    """A started sandbox whose simulated agent phones have registered; stopped on exit, even
    on failure (tests that need one of their own, e.g. with more agents, use it too)."""
    ensure_root(cfg)
    sandbox = Sandbox(cfg)
    sandbox.start(log=lambda *_: None)
    try:
        _wait_registered(sandbox)
        yield sandbox
    finally:
        sandbox.stop(log=lambda *_: None)


def _wait_registered(sandbox: Sandbox, timeout: float = 15.0) -> None:
    """Simulated agent phones register right after boot; tests start once they have."""
    agents = sandbox.config["queue"]["agents"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = sandbox.cli("city", "pjsip show registrations")
        if out.count("Registered ") >= len(agents):
            return
        time.sleep(0.1)
    raise TimeoutError("simulated agent phones did not register:\n" + out)


def city_ami(sandbox: Sandbox) -> RawAMI:
    sec = sandbox.secrets()["city_ami"]
    return RawAMI(sandbox.config["city"]["ami_port"], sec["username"], sec["secret"])


def pbx_ami(sandbox: Sandbox) -> RawAMI:
    sec = sandbox.secrets()["pbx_ami"]
    return RawAMI(sandbox.config["pbx"]["ami_port"], sec["username"], sec["secret"])


def ami_client(sandbox: Sandbox, which: str = "pbx", **kw):
    """Our own AMI client logged in to one sandbox instance (``"pbx"`` or ``"city"``)."""
    from twisted.internet import reactor

    from hotline.ami.client import AMIClient

    creds = sandbox.secrets()[f"{which}_ami"]
    return AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                     port=sandbox.config[which]["ami_port"], reactor=reactor, **kw)


def config_file(sandbox: Sandbox, path: Path) -> Path:
    """The test sandbox's configuration as a TOML file, for commands run as subprocesses."""
    from hotline.cli.config import _toml_value

    lines = [f'[site]\nstate_dir = "{sandbox.config.state_dir}"']
    for section, values in TEST_OVERRIDES.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _state_files(base: Path) -> list[Path]:
    """The sandboxes' state files under ``base``, never looking inside a mount (a sandbox's root
    file system and its /proc, whose entries vanish while they are read)."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(base, onerror=lambda error: None):
        subfolders[:] = [d for d in subfolders if not os.path.ismount(os.path.join(folder, d))]
        if "state.json" in files:
            found.append(Path(folder) / "state.json")
    return found


def sweep_sandboxes(base: Path) -> list[str]:
    """End every sandbox still running under ``base`` and unmount what it left; returns what
    was found (a worker that pytest-timeout ended, or that crashed, could not clean up)."""
    found: list[str] = []
    for state_file in _state_files(base):
        try:
            pids = json.loads(state_file.read_text()).get("pids", {})
        except (OSError, ValueError, AttributeError):
            continue
        for name, pid in pids.items():
            with contextlib.suppress(OSError, TypeError, ValueError):
                # Only a process chrooted into this sandbox: a pid may have been reused.
                if not os.readlink(f"/proc/{int(pid)}/root").startswith(str(base)):
                    continue
                os.kill(int(pid), signal.SIGKILL)
                found.append(f"{name} pid {pid} of {state_file.parent}")
    prefix = str(base) + "/"
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
        found.append(f"mount {mount}")
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's last word (in the controlling process when tests ran on several workers):
    nothing of a sandbox outlives the run, even when a worker could not clean up after itself."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    left = sweep_sandboxes(factory.getbasetemp())
    if left:
        print("\ntests.support.pbx: ended what the tests left running:\n  " + "\n  ".join(left))
