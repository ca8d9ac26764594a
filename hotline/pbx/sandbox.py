# -*- test-case-name: tests.pbx.test_sandbox -*-
"""Two Asterisk instances, the hotline PBX and the city simulator, run from the cached root."""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.config import Config
from hotline.pbx import prompts, render, rootfs

__all__ = ["Sandbox", "SandboxError", "InstanceStatus", "INSTANCES"]

#: The two instances, in start order.
INSTANCES: tuple[str, ...] = ("pbx", "city")

_BOOT_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


class SandboxError(Exception):
    """The sandbox cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class InstanceStatus:
    """What `status` reports of one instance."""

    name: str
    running: bool
    pid: int | None
    sip_port: int
    ami_port: int
    detail: str = ""


def _pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (dead, not yet reaped) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 1 and fields[1].replace("\\040", " ") == target:
                return True
    return False


def _port_in_use(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


class Sandbox:
    """The PBX sandbox of one run directory.

    Its root is an overlay over the cached Debian root, so each sandbox has a private ``/proc``
    and scratch space, and its run directory's ``var/`` is bind-mounted at ``/srv/hotline``
    so configuration, logs and recordings have the same host path while running and after.
    """

    def __init__(self, config: Config, *, run_dir: Path | None = None,
                 root: Path | None = None) -> None:
        self.config = config
        self.run_dir = (run_dir or config.sandbox_run_dir).resolve()
        self.root = (root or config.pbx_root).resolve()
        self.var_dir = self.run_dir / "var"
        self.merged = self.run_dir / "root"
        self._state_file = self.run_dir / "state.json"
        self._secrets_file = self.run_dir / "secrets.json"

    # -- facts other code needs -------------------------------------------------------------

    def ports(self) -> dict[str, int]:
        pbx, city = self.config["pbx"], self.config["city"]
        return {"pbx.sip_port": pbx["sip_port"], "pbx.ami_port": pbx["ami_port"],
                "pbx.http_port": pbx["http_port"], "city.sip_port": city["sip_port"],
                "city.phones_port": city["phones_port"], "city.ami_port": city["ami_port"]}

    def secrets(self) -> dict[str, Any]:
        """This sandbox's generated secrets (AMI users, agent phones), made on first use."""
        if self._secrets_file.exists():
            return json.loads(self._secrets_file.read_text())
        data = {
            "pbx_ami": {"username": self.config["ami"]["username"],
                        "secret": secrets.token_urlsafe(24)},
            "city_ami": {"username": "city", "secret": secrets.token_urlsafe(24)},
            "agents": {a: secrets.token_urlsafe(18) for a in self.config["queue"]["agents"]},
        }
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        return data

    def host_path(self, inside: str) -> Path:
        """The host path of a file inside the sandbox (e.g. a recording's MIXMONITOR_FILENAME)."""
        base = render.CHROOT_BASE + "/"
        if not inside.startswith(base):
            raise ValueError(f"{inside!r} is not under {base}")
        return self.var_dir / inside[len(base):]

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, *, log=print) -> dict[str, InstanceStatus]:
        """Start both instances and wait until both are FullyBooted.

        Everything is checked before anything starts (root built, not already running, ports
        free); if a step fails after that, whatever was started is stopped again, so a failed
        start leaves nothing half-started.
        """
        if os.geteuid() != 0:
            raise SandboxError("the PBX sandbox needs root (it mounts and chroots): run as root")
        info = rootfs.root_info(self.root)
        if info is None:
            raise SandboxError(f"no PBX root at {self.root}: run `hotline pbx build` first")
        if any(s.running for s in self.status().values()):
            raise SandboxError(f"the sandbox in {self.run_dir} is already running: "
                               "`hotline pbx stop` first")
        if _mounted(self.merged):
            self._unmount()
        for name, port in self.ports().items():
            sip = name.endswith(("sip_port", "phones_port"))
            if _port_in_use(port, socket.SOCK_DGRAM if sip else socket.SOCK_STREAM):
                raise SandboxError(f"port {port} ({name}) is already in use: stop whatever "
                                   f"holds it (`ss -lunpt | grep {port}`) or set another "
                                   f"{name} in the configuration")
        started = time.monotonic()
        try:
            self._prepare(info)
            self._mount()
            pids = {}
            for instance in INSTANCES:
                pids[instance] = self._spawn(instance)
                self._write_state(pids)
            for instance in INSTANCES:
                self._wait_booted(instance, pids[instance])
        except BaseException:
            self.stop(log=lambda *_: None)
            raise
        log(f"PBX sandbox up in {time.monotonic() - started:.1f} s ({info.asterisk_version})")
        return self.status()

    def stop(self, *, log=print) -> None:
        """Stop both instances and unmount; safe to call when nothing runs."""
        state = self._read_state()
        for instance in reversed(INSTANCES):
            pid = state.get("pids", {}).get(instance)
            if pid and _pid_alive(pid):
                self._stop_instance(instance, pid)
                log(f"stopped {instance} (pid {pid})")
        self._unmount()
        self._state_file.unlink(missing_ok=True)

    def restart(self, instance: str, *, log=print) -> int:
        """Stop one running instance at once (as a crash or an operator's restart would: its
        calls are cut) and start it again; returns its new pid."""
        state = self._read_state()
        pids = dict(state.get("pids", {}))
        pid = pids.get(instance)
        if pid and _pid_alive(pid):
            self._stop_instance(instance, pid)
        pids[instance] = self._spawn(instance)
        self._wait_booted(instance, pids[instance])
        self._write_state(pids)
        log(f"restarted {instance} (pid {pids[instance]})")
        return pids[instance]

    def status(self) -> dict[str, InstanceStatus]:
        state = self._read_state()
        ports = self.ports()
        out = {}
        for instance in INSTANCES:
            pid = state.get("pids", {}).get(instance)
            running = bool(pid) and _pid_alive(pid)
            out[instance] = InstanceStatus(
                name=instance, running=running, pid=pid if running else None,
                sip_port=ports[f"{instance}.sip_port"], ami_port=ports[f"{instance}.ami_port"],
                detail="" if running else ("exited" if pid else "not started"))
        return out

    def cli(self, instance: str, command: str, *, timeout: float = 10.0) -> str:
        """Run one Asterisk CLI command on an instance (sandbox tooling and tests only)."""
        conf = render.InstanceDirs(instance).conf
        proc = subprocess.run(["chroot", str(self.merged), "asterisk", "-C", conf, "-rx", command],
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise SandboxError(f"{instance}: `{command}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def mounts(self) -> list[str]:
        """Mount points of this sandbox still present (what `stop` must leave empty)."""
        prefix = str(self.run_dir) + "/"
        with open("/proc/self/mounts") as f:
            return [ln.split()[1] for ln in f if ln.split()[1].startswith(prefix)]

    # -- steps ---------------------------------------------------------------------------------

    def _context(self, info: rootfs.RootInfo) -> dict[str, Any]:
        sec = self.secrets()
        cfg = self.config
        moddirs = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not moddirs:
            raise SandboxError(f"no Asterisk modules in {self.root}: rebuild with "
                               "`hotline pbx build`")
        agi_host = cfg["agi"]["bind"] if cfg["agi"]["bind"] not in ("0.0.0.0", "::") else "127.0.0.1"
        return {
            "site": cfg["site"], "pbx": cfg["pbx"], "city": cfg["city"], "queue": cfg["queue"],
            "agi": {"host": agi_host, "port": cfg["agi"]["port"]},
            "moddir": "/" + str(moddirs[0].relative_to(self.root)),
            "agents": [{"id": a, "secret": s} for a, s in sec["agents"].items()],
            "extra_noload": [], "verbose": True,
        }

    def _prepare(self, info: rootfs.RootInfo) -> None:
        base = self._context(info)
        sec = self.secrets()
        per_instance = {
            "pbx": {"ami_port": self.config["pbx"]["ami_port"], "ami_user": sec["pbx_ami"]["username"],
                    "ami_secret": sec["pbx_ami"]["secret"],
                    "rtp_start": self.config["pbx"]["rtp_start"],
                    "rtp_end": self.config["pbx"]["rtp_end"]},
            "city": {"ami_port": self.config["city"]["ami_port"], "ami_user": "city",
                     "ami_secret": sec["city_ami"]["secret"],
                     "rtp_start": self.config["city"]["rtp_start"],
                     "rtp_end": self.config["city"]["rtp_end"]},
        }
        for instance in INSTANCES:
            render.render_instance(instance, self.var_dir, dict(base, **per_instance[instance]))
        try:
            prompts.build_prompts(self.var_dir / "sounds",
                                  short=bool(self.config["pbx"]["short_prompts"]))
        except prompts.PromptError as e:
            raise SandboxError(str(e)) from None

    def _mount(self) -> None:
        upper, work = self.run_dir / "upper", self.run_dir / "work"
        for d in (upper, work):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        self.merged.mkdir(parents=True, exist_ok=True)
        self._sh(["mount", "-t", "overlay", "overlay", "-o",
                  f"lowerdir={self.root},upperdir={upper},workdir={work}", str(self.merged)],
                 "mount the sandbox root (overlayfs)")
        self._sh(["mount", "-t", "proc", "proc", str(self.merged / "proc")], "mount /proc")
        inside = self.merged / render.CHROOT_BASE.lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        self._sh(["mount", "--bind", str(self.var_dir), str(inside)],
                 "bind the run directory into the root")

    def _unmount(self) -> None:
        for point in sorted(self.mounts(), key=len, reverse=True):
            proc = subprocess.run(["umount", point], capture_output=True, text=True)
            if proc.returncode != 0:
                # A straggler (a CLI client) may still hold it: detach now, freed when it exits.
                subprocess.run(["umount", "-l", point], capture_output=True, text=True)

    def _spawn(self, instance: str) -> int:
        conf = render.InstanceDirs(instance).conf
        logfile = self.var_dir / instance / "log" / "console.log"
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(
                ["chroot", str(self.merged), "/usr/sbin/asterisk", "-f", "-C", conf],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        return proc.pid

    def _wait_booted(self, instance: str, pid: int) -> None:
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                log_tail = self._log_tail(instance)
                raise SandboxError(f"{instance} exited while starting; its log ends:\n{log_tail}")
            try:
                self.cli(instance, "core waitfullybooted", timeout=_BOOT_TIMEOUT_S)
                return
            except (SandboxError, subprocess.TimeoutExpired) as e:
                last = str(e)
                time.sleep(0.1)
        raise SandboxError(f"{instance} did not finish booting in {_BOOT_TIMEOUT_S:.0f} s "
                           f"({last}); see {self.var_dir / instance / 'log'}")

    def _stop_instance(self, instance: str, pid: int) -> None:
        try:
            self.cli(instance, "core stop now", timeout=5)
        except (SandboxError, subprocess.TimeoutExpired):
            pass
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not _pid_alive(pid):
                break
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it was ours
        except ChildProcessError:
            pass

    def _log_tail(self, instance: str, lines: int = 12) -> str:
        logs = [self.var_dir / instance / "log" / "console.log",
                self.var_dir / instance / "log" / "messages.log"]
        text = []
        for f in logs:
            if f.exists():
                text.extend(f.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(text) or "(no log)"

    def _read_state(self) -> dict[str, Any]:
        try:
            return json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, pids: dict[str, int]) -> None:
        self._state_file.write_text(json.dumps({"pids": pids, "root": str(self.root)}))

    @staticmethod
    def _sh(cmd: list[str], what: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SandboxError(f"cannot {what}: {proc.stderr.strip()}")
