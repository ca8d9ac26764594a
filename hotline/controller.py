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
from hotline.agi.routes import RouteTable
from hotline.agi.server import listen as agi_listen
from hotline.ami.client import AMIClient
from hotline.bus import EventBus
from hotline.calls.recording_space import RecordingSpace
from hotline.config import Config
from hotline.dependencies import Dependencies
from hotline.pbx.link import ami_address, ami_credentials
from hotline.plugins import load_plugins

__all__ = ["Controller", "ami_address", "ami_credentials"]

_log = Logger(namespace="hotline.controller")


class Controller:
    """Owns what runs in the controller process and starts and stops it in order.

    Like wazo-calld's plugin loading, the shared objects (configuration, reactor, AMI link,
    database, event bus, FastAGI routes) go into one typed L{Dependencies}; each package's
    ``plugin.py`` builds its part from there (L{hotline.plugins}). The parts are reachable as
    attributes of the controller (C{controller.bridge} is C{controller.deps.bridge}); nothing
    is a module-level singleton.
    """

    def __init__(self, *, config: Config, reactor: Any, routes: RouteTable | None = None) -> None:
        self.config = config
        self.reactor = reactor
        self.routes = routes or RouteTable()
        username, secret = ami_credentials(config)
        ami = config["ami"]
        host, port = ami_address(config)
        self.ami = AMIClient(username=username, secret=secret, host=host, port=port,
                             reactor=reactor, wait_booted=True,
                             keepalive_interval=float(ami["keepalive_s"]),
                             action_timeout=float(ami["action_timeout_s"]),
                             max_message=int(ami["max_message_bytes"]),
                             event_filter=bool(ami["event_filter"]))
        self.db = Database.from_config(config, reactor=reactor)
        # New calls go unrecorded while the recordings disk is nearly full (calls still pass).
        self.recording_space = RecordingSpace(
            folder=_recordings_folder(config),
            min_free_mb=float(config["calls"]["min_free_disk_mb"]),
            interval_s=float(config["calls"]["disk_check_s"]), clock=reactor, alert=self._alert)
        self.deps = load_plugins(Dependencies(
            record_calls=lambda: self.recording_space.allowed,
            config=config, reactor=reactor, db=self.db, bus=EventBus(), ami=self.ami,
            routes=self.routes, host_path=_host_path(config), node=socket.gethostname()))
        self._agi_port: IListeningPort | None = None
        self._running = False

    # The parts the plugins built (see hotline.plugins for the order).
    @property
    def bus(self) -> EventBus:
        return self.deps.bus

    @property
    def tracker(self) -> Any:
        return self.deps.tracker

    @property
    def calls(self) -> Any:
        return self.deps.calls

    @property
    def finaliser(self) -> Any:
        return self.deps.finaliser

    @property
    def reconciler(self) -> Any:
        return self.deps.reconciler

    @property
    def agents(self) -> Any:
        return self.deps.agents

    @property
    def bridge(self) -> Any:
        return self.deps.bridge

    @property
    def scheduler(self) -> Any:
        return self.deps.scheduler

    @property
    def softphone(self) -> Any:
        return self.deps.softphone

    @property
    def stt(self) -> Any:
        return self.deps.stt

    @property
    def daily_report(self) -> Any:
        return self.deps.daily_report

    @property
    def floor(self) -> Any:
        return self.deps.floor

    @property
    def web(self) -> Any:
        return self.deps.console

    def _alert(self, action: str, details: dict[str, Any]) -> None:
        """An operational alert: into the audit log a supervisor reads (/supervisor)."""
        from hotline.web import audit

        d = self.db.run(audit.record, actor="system", role=None, action=action,
                        outcome="alert", details=details)
        d.addErrback(lambda f: _log.failure("alert {action} not audited", f, action=action))

    async def start(self) -> None:
        """Bring the schema up to date, listen for FastAGI, connect to AMI and wait for login.

        A start that fails part-way (a port taken, the console's certificate unreadable)
        stops what it had started before it raises: the database's threads are not daemons,
        and a process left holding them would never exit."""
        from twisted.internet import threads

        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        await threads.deferToThread(migrate.upgrade, self.db.url)
        self._running = True  # from here on, stop() undoes whatever was started
        try:
            await self._start_parts()
        except BaseException:
            await self.stop()
            raise

    async def _start_parts(self) -> None:
        agi = self.config["agi"]
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
        await self.ami.when_ready()
        for peer in self.deps.peers:
            peer.start()  # another node's PBX may be down: its link retries by itself
        await self.bridge.start()
        await self.floor.start()
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
            ("bridge", self.bridge.stop), ("floor", self.floor.stop),
            ("FastAGI port", close_agi),
            ("reconciler", self.reconciler.stop), ("AMI link", self.ami.stop),
            *((f"node {p.node.number}'s AMI link", p.stop) for p in self.deps.peers),
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
