"""Fixtures that build (if needed), start and stop the real PBX sandbox for the test run.

The test sandbox uses its own ports and run directory, so it can run beside a `make run`
sandbox on the same machine. It is stopped and unmounted at the end even when tests fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline import config as config_mod
from hotline.pbx import rootfs
from hotline.pbx.sandbox import Sandbox

#: Ports of the test sandbox: the defaults plus 1000, away from a running `make run`. Two test
#: runs on one machine (two developers) set HOTLINE_TEST_PORT_SHIFT to keep apart.
_SHIFT = int(os.environ.get("HOTLINE_TEST_PORT_SHIFT", "0"))
TEST_OVERRIDES = {
    "pbx": {"sip_port": 16060 + _SHIFT, "ami_port": 16038 + _SHIFT, "http_port": 16088 + _SHIFT,
            "rtp_start": 30000 + _SHIFT, "rtp_end": 32499 + _SHIFT},
    "city": {"sip_port": 16070 + _SHIFT, "phones_port": 16080 + _SHIFT,
             "ami_port": 16039 + _SHIFT, "rtp_start": 32500 + _SHIFT, "rtp_end": 34999 + _SHIFT},
    "agi": {"port": 16573 + _SHIFT},
    # The console of every test controller listens on a free port (``controller.web.port``).
    "web": {"port": 0},
    # Test controllers share one database; only the scheduler's own tests (each on its own
    # database) turn the scheduler on, so no other test's promise is ever dialled.
    "scheduler": {"enabled": False},
}


def ports_apart(offset: int) -> dict:
    """Overrides putting a second sandbox's ports ``offset`` above the test sandbox's (and a few
    RTP ports of its own past both RTP ranges), so both run side by side."""
    ports: dict = {section: {k: TEST_OVERRIDES[section][k] + offset for k in keys}
                   for section, keys in (("pbx", ("sip_port", "ami_port", "http_port")),
                                         ("city", ("sip_port", "phones_port", "ami_port")),
                                         ("agi", ("port",)))}
    rtp = TEST_OVERRIDES["city"]["rtp_end"] + 1 + offset
    ports["pbx"].update(rtp_start=rtp, rtp_end=rtp + 299)
    ports["city"].update(rtp_start=rtp + 300, rtp_end=rtp + 599)
    return ports


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


#: The spare sandbox's queue: short enough that overflow and faults show within a test.
SPARE_QUEUE = {"max_length": 3, "max_wait_s": 6, "overflow": "callback",
               "overflow_callback_in_s": 60.0}


@pytest.fixture(scope="session")
def spare_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A second PBX sandbox (ports apart) for tests that restart or starve it, and that need a
    short queue (SPARE_QUEUE); the session's own sandbox is never touched by them."""
    overrides = {**ports_apart(600), "queue": SPARE_QUEUE}
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
