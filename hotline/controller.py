# -*- test-case-name: tests.test_controller -*-
"""The controller's composition root: one reactor with the AMI link, FastAGI and the services."""

from __future__ import annotations

import gc
import socket
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from db import migrate
from db.session import Database
from hotline.agents import AgentService
from hotline.agi.routes import RouteTable
from hotline.agi.scripts import inbound, overflow
from hotline.agi.server import listen as agi_listen
from hotline.ami.client import AMIClient
from hotline.bridge import attach as attach_bridge
from hotline.calls.finaliser import CallFinaliser
from hotline.calls.reconciler import CallReconciler
from hotline.calls.recording_space import RecordingSpace
from hotline.calls.service import CallService
from hotline.calls.tracker import CallTracker
from hotline.config import Config, ConfigError
from hotline.reports.job import attach as attach_daily_report
from hotline.softphone import attach as attach_softphone
from hotline.stt import attach as attach_stt
from hotline.web.app import attach as attach_web
from scheduler import attach as attach_scheduler

__all__ = ["Controller", "ami_address", "ami_credentials"]

_log = Logger(namespace="hotline.controller")


def ami_credentials(config: Config) -> tuple[str, str]:
    """The controller's AMI user and secret: the environment's, else the sandbox's own."""
    secret = config.secret("ami.secret")
    if secret:
        return config["ami"]["username"], secret
    if config["pbx"]["sandbox"]:
        from hotline.pbx.sandbox import Sandbox

        sandbox = Sandbox(config)
        if sandbox.run_dir.joinpath("secrets.json").exists():
            creds = sandbox.secrets()["pbx_ami"]
            return creds["username"], creds["secret"]
        raise ConfigError(["no AMI secret yet: start the sandbox (`hotline pbx start`) or set "
                           "HOTLINE_AMI_SECRET"], config.source)
    raise ConfigError(["no AMI secret: set HOTLINE_AMI_SECRET"], config.source)


def ami_address(config: Config) -> tuple[str, int]:
    """Where the hotline PBX's AMI listens: the sandbox's own port, or the site's [ami]."""
    if config["pbx"]["sandbox"]:
        return "127.0.0.1", config["pbx"]["ami_port"]
    return config["ami"]["host"], config["ami"]["port"]


class Controller:
    """Owns what runs in the controller process and starts and stops it in order.

    Like wazo-calld's plugin loading, each part is built here from shared objects and handed
    its collaborators; nothing is a module-level singleton.
    """

    def __init__(self, *, config: Config, reactor: Any, routes: RouteTable | None = None) -> None:
        self.config = config
        self.reactor = reactor
        self.routes = routes or RouteTable()
        username, secret = ami_credentials(config)
        ami = config["ami"]
        host, port = ami_address(config)
        self.ami = AMIClient(username=username, secret=secret, host=host, port=port,
                             reactor=reactor,
                             keepalive_interval=float(ami["keepalive_s"]),
                             action_timeout=float(ami["action_timeout_s"]),
                             max_message=int(ami["max_message_bytes"]))
        self.db = Database.from_config(config, reactor=reactor)
        # New calls go unrecorded while the recordings disk is nearly full (calls still pass).
        self.recording_space = RecordingSpace(
            folder=_recordings_folder(config), min_free_mb=float(config["calls"]["min_free_disk_mb"]),
            interval_s=float(config["calls"]["disk_check_s"]), clock=reactor,
            alert=self._alert)
        inbound.register(self.routes, db=self.db, record=lambda: self.recording_space.allowed)
        overflow.register(self.routes, db=self.db, settings=config["queue"],
                          timezone=config["site"]["timezone"])
        host_path = _host_path(config)
        self.finaliser = CallFinaliser(ami=self.ami, db=self.db, host_path=host_path)
        self.reconciler = CallReconciler(
            ami=self.ami, db=self.db, finaliser=self.finaliser, host_path=host_path,
            interval_s=float(config["calls"]["reconcile_interval_s"]))
        self.agents = AgentService(ami=self.ami, db=self.db, queue=config["queue"]["name"],
                                   agents=config["queue"]["agents"])
        self.tracker = CallTracker(ami=self.ami, clock=reactor,
                                   queue_name=config["queue"]["name"])
        self.calls = CallService(tracker=self.tracker)
        # Timed replies: built always, placing calls only when scheduler.enabled.
        self.scheduler = attach_scheduler(self, node=socket.gethostname())
        self._agi_port: IListeningPort | None = None
        self._running = False
        # Three-way calls with the municipal hotlines (the console reads .bridge).
        self.bridge = attach_bridge(self)
        # The browser as the agent's phone (WebRTC), credentials per console session.
        self.softphone = attach_softphone(self)
        # Speech-to-text call notes, queued as each call's final row is committed.
        self.stt = attach_stt(self)
        # The daily public-sentiment report (民情报告), written at reports.daily_time.
        self.daily_report = attach_daily_report(self)
        # Last: the console picks up every service built above.
        self.web = attach_web(self)

    def _alert(self, action: str, details: dict[str, Any]) -> None:
        """An operational alert: into the audit log a supervisor reads (/supervisor)."""
        from hotline.web import audit

        d = self.db.run(audit.record, actor="system", role=None, action=action,
                        outcome="alert", details=details)
        d.addErrback(lambda f: _log.failure("alert {action} not audited", f, action=action))

    async def start(self) -> None:
        """Bring the schema up to date, listen for FastAGI, connect to AMI and wait for login."""
        from twisted.internet import threads

        agi = self.config["agi"]
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        await threads.deferToThread(migrate.upgrade, self.db.url)
        self.db.start()
        self.recording_space.start()
        await self.stt.start()
        self.finaliser.subscribe()
        self.tracker.subscribe()
        self.agents.start()
        self.reconciler.start()
        self.routes.run_setup()
        self._agi_port = agi_listen(self.reactor, routes=self.routes, bind=agi["bind"],
                                    port=agi["port"], allow=agi["allow"],
                                    script_timeout=agi["script_timeout_s"])
        self.ami.start()
        self._running = True
        await self.ami.when_ready()
        await self.bridge.start()
        await self.softphone.start()
        await self.web.start()
        await self.scheduler.start()
        await self.daily_report.start()
        # What start-up allocated lives as long as the process: keep it out of the collector's
        # full passes, which otherwise stall the reactor for ~100 ms under load (bench.scheduler).
        gc.collect()
        gc.freeze()
        host, port = ami_address(self.config)
        _log.info("controller up: FastAGI on {bind}:{port}, AMI {host}:{amiport}",
                  bind=agi["bind"], port=agi["port"], host=host, amiport=port)

    async def stop(self) -> None:
        """Stop taking calls first, then drop the AMI link; a second call does nothing.

        Every part is stopped even if one before it fails (that failure is logged with the
        part's name): a console that cannot close a stream must not leave the FastAGI port
        bound and the AMI link up."""
        if not self._running:
            return
        self._running = False
        from twisted.internet import threads

        async def close_agi() -> None:
            if self._agi_port is not None:
                port, self._agi_port = self._agi_port, None
                await port.stopListening()

        steps: list[tuple[str, Any]] = [
            ("daily report", self.daily_report.stop), ("scheduler", self.scheduler.stop),
            ("console", self.web.stop), ("softphone", self.softphone.stop),
            ("bridge", self.bridge.stop), ("FastAGI port", close_agi),
            ("reconciler", self.reconciler.stop), ("AMI link", self.ami.stop),
            ("call finaliser", self.finaliser.unsubscribe), ("live view", self.tracker.stop),
            ("speech-to-text", self.stt.stop), ("disk watch", self.recording_space.stop),
            ("database", lambda: threads.deferToThread(self.db.stop)),
        ]
        for name, stop in steps:
            try:
                result = stop()
                if hasattr(result, "__await__"):  # a coroutine or a Deferred
                    await result
            except Exception:
                _log.failure("controller stop: the {part} did not stop cleanly", part=name)


def _recordings_folder(config: Config) -> Path | None:
    """Where the PBX writes recordings, as this host sees it (None: not visible from here)."""
    if config["calls"]["recordings_dir"]:
        return Path(config["calls"]["recordings_dir"])
    if not config["pbx"]["sandbox"]:
        return None
    from hotline.pbx.render import InstanceDirs
    from hotline.pbx.sandbox import Sandbox

    # Through the sandbox's root, as Asterisk sees it (a disk mounted there is the one it fills).
    return Sandbox(config).merged / InstanceDirs("pbx").recordings.lstrip("/")


def _host_path(config: Config):
    """Paths Asterisk reports (recordings) as the controller's host sees them."""
    if not config["pbx"]["sandbox"]:
        return lambda p: p
    from hotline.pbx.sandbox import Sandbox

    sandbox = Sandbox(config)
    return lambda p: str(sandbox.host_path(p)) if p.startswith("/srv/hotline/") else p
