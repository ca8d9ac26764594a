# -*- test-case-name: tests.pbx.test_sandbox -*-
"""Two Asterisk instances, the hotline PBX and the city simulator, run from the cached root;
with ``cluster.nodes`` > 1, one hotline PBX per node on its own loopback address, Kamailio as the
carrier-facing edge in front of them and the PostgreSQL the nodes' controllers share."""

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
from hotline.pbx import prompts, render, rootfs, topology
from hotline.pbx.database import SharedDatabase
from hotline.pbx.edge import Edge, EdgeError

__all__ = ["Sandbox", "SandboxError", "InstanceStatus", "INSTANCES"]

#: The two instances of one node, in start order.
INSTANCES: tuple[str, ...] = ("pbx", "city")
#: The state file's name for the edge's process (Kamailio, not an Asterisk instance).
EDGE = "edge"

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
    address: str = "127.0.0.1"


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


def _port_in_use(port: int, kind: int, address: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
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
        running = self.running_nodes()
        if running and running != config["cluster"]["nodes"]:
            # Status, stop and the CLI see the sandbox as it was started (--nodes N).
            self.config = config.with_overrides({"cluster": {"nodes": running}})

    # -- facts other code needs -------------------------------------------------------------

    @property
    def nodes(self) -> list[topology.Node]:
        """The hotline PBXs this sandbox runs (one, unless ``cluster.nodes`` says more)."""
        return topology.nodes(self.config)

    @property
    def clustered(self) -> bool:
        return len(self.nodes) > 1

    def instances(self) -> tuple[str, ...]:
        """The Asterisk instances, in start order: every node's hotline PBX, then the city."""
        return tuple(n.instance for n in self.nodes) + ("city",)

    @property
    def edge(self) -> Edge:
        return Edge(self.config, self.run_dir / "edge")

    def running_nodes(self) -> int | None:
        """How many hotline PBXs the sandbox was started with, while it runs; else None."""
        state = self._read_state()
        pids = state.get("pids", {})
        if not any(pid and _pid_alive(pid) for pid in pids.values()):
            return None
        return int(state.get("nodes", 1))

    def database_url(self) -> str | None:
        """The shared PostgreSQL's URL while a cluster sandbox runs, else None."""
        return self._read_state().get("database_url")

    def _sockets(self) -> list[tuple[str, str, int, int]]:
        """What the sandbox will listen on: (name, address, port, SOCK_DGRAM/SOCK_STREAM)."""
        udp, tcp = socket.SOCK_DGRAM, socket.SOCK_STREAM
        pbx, city = self.config["pbx"], self.config["city"]
        out = []
        for node in self.nodes:
            out += [(f"{node.instance}.sip_port", node.address, pbx["sip_port"], udp),
                    (f"{node.instance}.ami_port", node.address, pbx["ami_port"], tcp),
                    (f"{node.instance}.http_port", node.address, pbx["http_port"], tcp)]
        out += [("city.sip_port", "127.0.0.1", city["sip_port"], udp),
                ("city.phones_port", "127.0.0.1", city["phones_port"], udp),
                ("city.ami_port", "127.0.0.1", city["ami_port"], tcp)]
        if self.clustered:
            cluster = self.config["cluster"]
            out.append(("cluster.edge_port", cluster["edge_address"], cluster["edge_port"], udp))
        return out

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
        for name, address, port, kind in self._sockets():
            try:
                busy = _port_in_use(port, kind, address)
            except OSError as e:
                raise SandboxError(f"cannot listen on {address} ({name}): {e}") from None
            if busy:
                raise SandboxError(f"port {address}:{port} ({name}) is already in use: stop "
                                   f"whatever holds it (`ss -lunpt | grep {port}`) or set "
                                   f"another {name} in the configuration")
        started = time.monotonic()
        state: dict[str, Any] = {"pids": {}, "root": str(self.root), "nodes": len(self.nodes)}
        try:
            self._prepare(info)
            if self.clustered:
                self.edge.render([n.sip for n in self.nodes])
                port, url = SharedDatabase(self.run_dir).start()
                state.update(postgres_port=port, database_url=url)
                self._state_file.write_text(json.dumps(state))
            self._mount()
            for instance in self.instances():
                state["pids"][instance] = self._spawn(instance)
                self._state_file.write_text(json.dumps(state))
            for instance in self.instances():
                self._wait_booted(instance, state["pids"][instance])
            if self.clustered:
                state["pids"][EDGE] = self.edge.spawn()
                self._state_file.write_text(json.dumps(state))
                self._wait_edge(state["pids"][EDGE])
        except (EdgeError, RuntimeError) as e:
            self.stop(log=lambda *_: None)
            raise SandboxError(str(e)) from None
        except BaseException:
            self.stop(log=lambda *_: None)
            raise
        what = f"{len(self.nodes)} hotline PBXs behind Kamailio" if self.clustered else "PBX"
        log(f"{what} sandbox up in {time.monotonic() - started:.1f} s ({info.asterisk_version})")
        return self.status()

    def stop(self, *, log=print) -> None:
        """Stop every instance (and a cluster's edge and database) and unmount; safe to call
        when nothing runs."""
        state = self._read_state()
        for instance, pid in reversed(list(state.get("pids", {}).items())):
            if pid and _pid_alive(pid):
                if instance == EDGE:
                    self._end_process(pid)
                else:
                    self._stop_instance(instance, pid)
                log(f"stopped {instance} (pid {pid})")
        if state.get("postgres_port"):
            SharedDatabase(self.run_dir).stop(state["postgres_port"])
            log("stopped the cluster's PostgreSQL")
        self._unmount()
        self._state_file.unlink(missing_ok=True)

    def kill(self, instance: str) -> None:
        """End one instance at once, as a crash or a power cut would (fault tests, drills)."""
        pid = self._read_state().get("pids", {}).get(instance)
        if not pid or not _pid_alive(pid):
            raise SandboxError(f"{instance} is not running")
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while _pid_alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)

    def revive(self, instance: str) -> None:
        """Start one instance that stopped again, with the configuration it had."""
        state = self._read_state()
        if instance not in state.get("pids", {}) or instance == EDGE:
            raise SandboxError(f"{instance} is not an Asterisk instance of this sandbox")
        if _pid_alive(state["pids"][instance]):
            raise SandboxError(f"{instance} is running")
        state["pids"][instance] = pid = self._spawn(instance)
        self._state_file.write_text(json.dumps(state))
        self._wait_booted(instance, pid)

    def restart(self, instance: str, *, log=print) -> int:
        """Stop one running instance at once (``core stop now``: its calls are cut, as an
        operator's restart would) and start it again with its configuration; returns its pid."""
        pid = self._read_state().get("pids", {}).get(instance)
        if pid and _pid_alive(pid):
            self._stop_instance(instance, pid)
        self.revive(instance)
        pid = self._read_state()["pids"][instance]
        log(f"restarted {instance} (pid {pid})")
        return pid


    def status(self) -> dict[str, InstanceStatus]:
        state = self._read_state()
        pbx, city, cluster = self.config["pbx"], self.config["city"], self.config["cluster"]
        where = {n.instance: (n.address, pbx["sip_port"], pbx["ami_port"]) for n in self.nodes}
        where["city"] = ("127.0.0.1", city["sip_port"], city["ami_port"])
        if self.clustered:
            where[EDGE] = (cluster["edge_address"], cluster["edge_port"], 0)
        out = {}
        for instance, (address, sip_port, ami_port) in where.items():
            pid = state.get("pids", {}).get(instance)
            running = bool(pid) and _pid_alive(pid)
            out[instance] = InstanceStatus(
                name=instance, running=running, pid=pid if running else None,
                sip_port=sip_port, ami_port=ami_port, address=address,
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
            "status_line": cfg["status_line"],
            "agi": {"host": agi_host, "port": cfg["agi"]["port"]},
            "moddir": "/" + str(moddirs[0].relative_to(self.root)),
            "agents": [{"id": a, "secret": s} for a, s in sec["agents"].items()],
            "extra_noload": [], "verbose": True,
        }

    def _prepare(self, info: rootfs.RootInfo) -> None:
        base = self._context(info)
        sec = self.secrets()
        cfg = self.config
        nodes = self.nodes
        city_sip = f"127.0.0.1:{cfg['city']['sip_port']}"
        edge = [topology.edge_uri(cfg)] if self.clustered else []
        for node in nodes:
            # Each hotline PBX: its own address and RTP range, its own seats' phones, the
            # carrier's calls from the city or the edge, every other node as a peer.
            context = dict(
                base, pbx=dict(cfg["pbx"], address=node.address), address=node.address,
                ami_port=cfg["pbx"]["ami_port"], ami_user=sec["pbx_ami"]["username"],
                ami_secret=sec["pbx_ami"]["secret"], rtp_start=node.rtp_start,
                rtp_end=node.rtp_end,
                agi=dict(base["agi"], host=node.address) if self.clustered else base["agi"],
                agents=[a for a in base["agents"] if a["id"] in node.seats],
                trunk={"contact": city_sip, "match": [city_sip, *edge]},
                peers=[{"number": p.number, "sip": p.sip} for p in nodes if p is not node],
                remote_seats=[{"code": code, "node": p.number} for p in nodes
                              if p is not node for code in p.seats])
            render.render_instance(node.instance, self.var_dir, context, kind="pbx")
        owner = {code: node.sip for node in nodes for code in node.seats}
        render.render_instance("city", self.var_dir, dict(
            base, address="127.0.0.1", ami_port=cfg["city"]["ami_port"], ami_user="city",
            ami_secret=sec["city_ami"]["secret"], rtp_start=cfg["city"]["rtp_start"],
            rtp_end=cfg["city"]["rtp_end"],
            agents=[dict(a, pbx=owner[a["id"]]) for a in base["agents"]],
            trunk={"contact": (edge or [nodes[0].sip])[0],
                   "match": [n.sip for n in nodes] + edge}))
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

    def _wait_edge(self, pid: int) -> None:
        """Until Kamailio answers on its control socket with every PBX in the rotation."""
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                raise SandboxError("Kamailio exited while starting; its log ends:\n"
                                   + self.edge.log_tail())
            try:
                destinations = self.edge.destinations()
                if destinations and all(d.up for d in destinations):
                    return
                last = ", ".join(f"{d.uri} {d.flags}" for d in destinations)
            except (EdgeError, subprocess.TimeoutExpired) as e:
                last = str(e)
            time.sleep(0.1)
        raise SandboxError(f"Kamailio did not see every PBX up in {_BOOT_TIMEOUT_S:.0f} s "
                           f"({last}); see {self.edge.log_file}")

    @staticmethod
    def _end_process(pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 3
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _pid_alive(pid):
                break
        try:
            os.waitpid(pid, os.WNOHANG)
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


    @staticmethod
    def _sh(cmd: list[str], what: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SandboxError(f"cannot {what}: {proc.stderr.strip()}")
