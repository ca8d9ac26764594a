# -*- test-case-name: tests.cluster.test_two_nodes -*-
"""The SIP edge of a cluster sandbox: Kamailio (Debian's package, on the host) with its
dispatcher in front of the hotline PBXs, configured from ``asterisk-config/edge/``."""

from __future__ import annotations

import glob
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hotline.config import Config
from hotline.pbx import render

__all__ = ["Edge", "EdgeError", "Destination"]


class EdgeError(Exception):
    """The edge cannot be started or asked; the message says what to do."""


@dataclass(frozen=True)
class Destination:
    """One PBX as the dispatcher sees it: ``up`` while it answers the probes."""

    uri: str
    up: bool
    flags: str


class Edge:
    """Kamailio's files under ``run_dir`` (configuration, dispatcher list, control socket, log)."""

    def __init__(self, config: Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir

    @property
    def log_file(self) -> Path:
        return self.run_dir / "kamailio.log"

    @property
    def control(self) -> Path:
        return self.run_dir / "kamailio_ctl"

    def render(self, pbx_uris: list[str]) -> Path:
        """Write kamailio.cfg and the dispatcher list (set 1: every hotline PBX)."""
        cluster = self.config["cluster"]
        modules = sorted(glob.glob("/usr/lib/*/kamailio/modules/dispatcher.so"))
        if not modules or not shutil.which("kamailio"):
            raise EdgeError("Kamailio is not installed: run `make deps` (or "
                            "`apt-get install kamailio`), then start again")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "dispatcher.list").write_text(
            "# set destination flags priority\n"
            + "".join(f"1 sip:{uri} 0 0\n" for uri in pbx_uris))
        context = {"edge": {"address": cluster["edge_address"], "port": cluster["edge_port"],
                            "probe_interval_s": cluster["probe_interval_s"],
                            "reply_timeout_ms": cluster["reply_timeout_ms"],
                            "run": str(self.run_dir),
                            "modules": str(Path(modules[0]).parent) + "/"}}
        cfg = self.run_dir / "kamailio.cfg"
        cfg.write_text(render.environment().get_template("edge/kamailio.cfg.j2").render(context))
        check = subprocess.run(["kamailio", "-c", "-f", str(cfg)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise EdgeError(f"kamailio refuses {cfg}:\n{check.stderr.strip()[-1500:]}")
        return cfg

    def spawn(self) -> int:
        """Start Kamailio in the foreground of a session of its own; returns its pid."""
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                ["kamailio", "-DD", "-E", "-f", str(self.run_dir / "kamailio.cfg"),
                 "-Y", str(self.run_dir), "-m", "64", "-M", "8"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        return proc.pid

    def destinations(self) -> list[Destination]:
        """The dispatcher's PBXs and whether each is in the rotation (``kamcmd``)."""
        proc = subprocess.run(["kamcmd", "-s", f"unix:{self.control}", "dispatcher.list"],
                              capture_output=True, text=True, timeout=5)
        if proc.returncode != 0:
            raise EdgeError(f"kamcmd dispatcher.list failed: {proc.stderr.strip()}")
        out: list[Destination] = []
        uri = None
        for line in proc.stdout.splitlines():
            key, _, value = line.strip().partition(":")
            value = value.strip()
            if key == "URI":
                uri = value
            elif key == "FLAGS" and uri is not None:
                # A = active, I = inactive, D = disabled; P = probing.
                out.append(Destination(uri=uri, up=value.startswith("A"), flags=value))
                uri = None
        return out

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
