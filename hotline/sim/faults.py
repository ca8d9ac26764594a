# -*- test-case-name: tests.faults.test_faults -*-
"""Faults played against the whole hotline while citizens call, and what they cost in calls.

A L{FaultLab} holds a running PBX sandbox (hotline PBX and city simulator) and runs one fault
at a time around a burst of calls from distinct numbers: the controller SIGKILLed mid-burst
and started again, the hotline PBX restarted mid-calls, PostgreSQL stopped for a while, the
recordings disk full, the AMI link cut. Each returns a L{FaultResult}: calls placed at the city
side, call rows, lost (a placed call without a final row), duplicated (more than one row for
one call), and, with ``callbacks`` on, the callbacks due while the fault struck: placed twice
and lost (L{hotline.sim.callbacks}). The tests (``tests/faults/``) hold the figures to zero;
``python -m bench.faults`` prints them.

With callbacks on, the lab's controllers run the scheduler (test-sized times, a database of
the lab's own) and every queue agent is logged in. Before the burst some callbacks are
promised due at once and the lab waits until the city has rung their citizens (the attempts
are up); right before the fault strikes more fall due, so the fault meets attempts in every
stage: talking, ringing, being claimed, and due while the part that places them is down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from twisted.internet import defer, threads
from twisted.internet.task import deferLater

from hotline.ami.client import AMIClient
from hotline.config import Config
from hotline.sim.burst import burst_numbers, place_burst
from hotline.sim.callbacks import FAST, CallbackFigures, CallbackRound
from hotline.sim.city import CitySimulator
from hotline.sim.linkcut import LinkCutter

__all__ = ["FaultResult", "FaultLab", "LinkCutter", "count_calls", "FAULTS"]

#: The faults, in the order the suite and the bench run them.
FAULTS = ("controller killed", "PBX restarted", "database down", "recordings disk full",
          "AMI link cut")


@dataclass
class FaultResult:
    """What one fault cost: the figures of one row of the table."""

    fault: str
    placed: int
    rows: int
    lost: int
    duplicated: int
    callbacks_twice: int
    seconds: float
    note: str = ""
    #: Callbacks promised around this fault, and of them lost (never reached nor failed) and
    #: reached; attempts in the database and citizen calls the city received. None: the
    #: lab ran without callbacks.
    callbacks: CallbackFigures | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def callbacks_lost(self) -> int:
        return self.callbacks.lost if self.callbacks is not None else 0


def count_calls(session: Any, numbers: list[str]) -> tuple[int, int, int]:
    """(final rows, lost, duplicated) for calls placed from ``numbers``, one call each."""
    from db.models import Call

    counts = dict(session.execute(
        select(Call.caller_number, func.count(Call.id))
        .where(Call.caller_number.in_(numbers), Call.ended_at.is_not(None))
        .group_by(Call.caller_number)).all())
    rows = sum(counts.values())
    lost = sum(1 for n in numbers if counts.get(n, 0) == 0)
    duplicated = sum(max(0, c - 1) for c in counts.values())
    return rows, lost, duplicated


class FaultLab:
    """One running sandbox and the means to play faults against it."""

    def __init__(self, *, config: Config, reactor: Any, state_dir: Path,
                 calls: int = 8, per_second: float = 4.0, hold_s: float = 3.0,
                 settle_s: float = 60.0, callbacks: tuple[int, int] = (0, 0),
                 talk_s: float = 5.0) -> None:
        """
        @param config: the sandbox's configuration (the controllers run on it, or derived).
        @param state_dir: where subprocess controllers keep their files (their config file).
        @param calls: calls in each fault's burst; each from a number of its own.
        @param hold_s: each citizen hangs up after this long.
        @param settle_s: longest wait for every call's row (and callback's end) once the fault
            is over.
        @param callbacks: callbacks per fault (up when it strikes, falling due as it strikes);
            (0, 0): the scheduler stays off.
        @param talk_s: a callback's longest talk (``scheduler.max_talk_s``): the in-flight
            callbacks are still talking when the fault strikes.
        """
        from hotline.pbx.sandbox import Sandbox

        self.sandbox = Sandbox(config)
        self.callbacks = callbacks
        if any(callbacks):
            # A database of the lab's own: no other test's promise is dialled by its scheduler.
            config = config.with_overrides({
                "database": {"url": f"sqlite:///{state_dir / 'faults.db'}"},
                "scheduler": dict(FAST, enabled=True, max_talk_s=talk_s)})
        else:
            config = config.with_overrides({"scheduler": {"enabled": False}})
        self.config = config
        self.reactor = reactor
        self.state_dir = state_dir
        self.calls = calls
        self.per_second = per_second
        self.hold_s = hold_s
        self.settle_s = settle_s
        self._prefix = 0

    # -- the city's side --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def city(self) -> AsyncIterator[CitySimulator]:
        creds = self.sandbox.secrets()["city_ami"]
        ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                        port=self.config["city"]["ami_port"], reactor=self.reactor)
        ami.start()
        try:
            await ami.when_ready()
            yield CitySimulator(ami=ami, hotline_number=self.config["site"]["hotline_number"])
        finally:
            await ami.stop()

    @contextlib.asynccontextmanager
    async def pbx(self) -> AsyncIterator[AMIClient]:
        """A link of the lab's own to the hotline PBX (agents log in over it)."""
        creds = self.sandbox.secrets()["pbx_ami"]
        ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                        port=self.sandbox.config["pbx"]["ami_port"], reactor=self.reactor)
        ami.start()
        try:
            await ami.when_ready()
            yield ami
        finally:
            await ami.stop()

    def numbers(self, count: int | None = None, head: str = "17") -> list[str]:
        """Numbers no earlier fault of this lab used."""
        self._prefix += 1
        return burst_numbers(self.calls if count is None else count,
                             prefix=f"{head}{int(time.time()) % 1000:03d}{self._prefix}")

    # -- callbacks around a fault ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def callbacks_around(self, city: CitySimulator, db: Any
                               ) -> AsyncIterator[CallbackRound | None]:
        """Agents logged in and the first callbacks up (their citizens rung) on entry; the
        agents logged out on exit. None when the lab runs without callbacks."""
        if not any(self.callbacks):
            yield None
            return
        from hotline.agents import AgentService

        agents = list(self.config["queue"]["agents"])
        cbs = CallbackRound(numbers=self.numbers(sum(self.callbacks), head="13"),
                            agents=agents, reactor=self.reactor,
                            timezone=self.config["site"]["timezone"],
                            min_talk_s=self.config["scheduler"]["min_talk_s"])
        await cbs.arm(city)
        async with self.pbx() as ami:
            floor = AgentService(ami=ami, db=db, queue=self.config["queue"]["name"],
                                 agents=agents)
            for code in agents:
                await floor.login(code)
            try:
                up = self.callbacks[0]
                if up:
                    await cbs.promise(db, up, 0.2)
                    if not await cbs.in_talk(up, timeout_s=20.0):
                        raise RuntimeError(f"the first {up} callbacks were not placed in 20 s")
                yield cbs
            finally:
                for code in agents:
                    with contextlib.suppress(Exception):
                        await floor.logout(code)

    async def strike(self, cbs: CallbackRound | None, db: Any) -> None:
        """Right before a fault: the second lot of callbacks falls due as it strikes."""
        if cbs is not None and self.callbacks[1]:
            await cbs.promise(db, self.callbacks[1], 0.3)

    async def callbacks_settled(self, cbs: CallbackRound | None,
                                db: Any) -> CallbackFigures | None:
        return None if cbs is None else await cbs.settle(db, self.settle_s)

    async def burst(self, city: CitySimulator, numbers: list[str]) -> defer.Deferred[Any]:
        """Start the burst; returns the Deferred of its placing (the calls go on after it)."""
        return defer.Deferred.fromCoroutine(place_burst(
            city, self.reactor, numbers, per_second=self.per_second, hold_s=self.hold_s,
            tone="400"))

    async def sleep(self, seconds: float) -> None:
        await deferLater(self.reactor, seconds, lambda: None)

    async def settle(self, count: Callable[[], Any], numbers: list[str]) -> tuple[int, int, int]:
        """Wait until every call has its row (or settle_s passes); the last count."""
        deadline = self.reactor.seconds() + self.settle_s
        while True:
            rows, lost, duplicated = await count()
            if lost == 0 or self.reactor.seconds() > deadline:
                return rows, lost, duplicated
            await self.sleep(1.0)

    def _result(self, fault: str, numbers: list[str], counted: tuple[int, int, int],
                started: float, note: str = "",
                callbacks: CallbackFigures | None = None) -> FaultResult:
        rows, lost, duplicated = counted
        return FaultResult(fault=fault, placed=len(numbers), rows=rows, lost=lost,
                           duplicated=duplicated,
                           callbacks_twice=callbacks.placed_twice if callbacks else 0,
                           seconds=round(self.reactor.seconds() - started, 1), note=note,
                           callbacks=callbacks)

    # -- controllers --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def controller(self, config: Config | None = None) -> AsyncIterator[Any]:
        from hotline.controller import Controller

        ctl = Controller(config=config or self.config, reactor=self.reactor)
        await ctl.start()
        try:
            yield ctl
        finally:
            await ctl.stop()

    def _count_with(self, db: Any, numbers: list[str]) -> Callable[[], Any]:
        return lambda: db.run(count_calls, numbers)

    # -- the faults ---------------------------------------------------------------------------------

    async def no_fault(self) -> FaultResult:
        """The same burst (and callbacks) with nothing going wrong: what every row should be."""
        started = self.reactor.seconds()
        numbers = self.numbers()
        async with self.controller() as ctl, self.city() as city, \
                self.callbacks_around(city, ctl.db) as cbs:
            await self.strike(cbs, ctl.db)
            await (await self.burst(city, numbers))
            counted = await self.settle(self._count_with(ctl.db, numbers), numbers)
            figures = await self.callbacks_settled(cbs, ctl.db)
        return self._result("reference: no fault", numbers, counted, started,
                            callbacks=figures)

    async def controller_killed(self) -> FaultResult:
        """``hotline run`` is SIGKILLed in the middle of a burst and started again."""
        from db.session import Database

        started = self.reactor.seconds()
        conf = self._config_file()
        numbers = self.numbers()
        proc = await self._spawn_controller(conf)
        db = Database.from_config(self.config, reactor=self.reactor)
        db.start()
        try:
            async with self.city() as city, self.callbacks_around(city, db) as cbs:
                placing = await self.burst(city, numbers)
                await self.sleep(len(numbers) / self.per_second / 2)
                await self.strike(cbs, db)
                proc.kill()  # SIGKILL: no stop, no goodbye
                await threads.deferToThread(proc.wait)
                await placing
                await self.sleep(1.0)
                proc = await self._spawn_controller(conf)
                counted = await self.settle(self._count_with(db, numbers), numbers)
                figures = await self.callbacks_settled(cbs, db)
        finally:
            await self._stop_controller(proc)
            await threads.deferToThread(db.stop)
        return self._result("controller killed", numbers, counted, started, callbacks=figures)

    async def pbx_restarted(self) -> FaultResult:
        """The hotline PBX is restarted (``core stop now``, start) with calls in progress."""
        started = self.reactor.seconds()
        numbers = self.numbers()
        async with self.controller() as ctl, self.city() as city, \
                self.callbacks_around(city, ctl.db) as cbs:
            placing = await self.burst(city, numbers)
            await placing
            await self.sleep(0.5)
            await self.strike(cbs, ctl.db)
            await threads.deferToThread(self.sandbox.restart, "pbx", log=lambda *_: None)
            counted = await self.settle(self._count_with(ctl.db, numbers), numbers)
            figures = await self.callbacks_settled(cbs, ctl.db)
        return self._result("PBX restarted", numbers, counted, started, callbacks=figures)

    async def database_down(self, server: Any, url: str, down_s: float) -> FaultResult:
        """PostgreSQL (``server``: up()/down()) stops for ``down_s`` during a burst.

        The test clusters run with ``synchronous_commit=off`` for speed, and ``down`` is an
        immediate stop: together they throw away the last commits, which no program can make
        up for (a callback promised, or an attempt claimed, just before the crash vanished in
        the first runs of this fault). The fault's database commits durably, as a site's
        server does (the default), so what is lost is the hotline's doing, not the harness's.
        """
        from sqlalchemy.engine import make_url

        await threads.deferToThread(
            server.admin,
            f'ALTER DATABASE "{make_url(url).database}" SET synchronous_commit = on')
        started = self.reactor.seconds()
        numbers = self.numbers()
        cfg = self.config.with_overrides({"database": {"url": url},
                                          "calls": {"reconcile_interval_s": 2.0}})
        async with self.controller(cfg) as ctl, self.city() as city, \
                self.callbacks_around(city, ctl.db) as cbs:
            placing = await self.burst(city, numbers)
            await self.sleep(0.5)
            await self.strike(cbs, ctl.db)
            await threads.deferToThread(server.down)
            try:
                await placing
                await self.sleep(down_s)
            finally:
                await threads.deferToThread(server.up)
            counted = await self.settle(self._count_with(ctl.db, numbers), numbers)
            figures = await self.callbacks_settled(cbs, ctl.db)
        return self._result("database down", numbers, counted, started,
                            note=f"{down_s:g} s without PostgreSQL", callbacks=figures)

    async def recordings_disk_full(self, size_kib: int = 512) -> FaultResult:
        """A full disk (a tiny tmpfs) is mounted where the PBX writes recordings."""
        from hotline.pbx.render import InstanceDirs

        started = self.reactor.seconds()
        numbers = self.numbers()
        folder = self.sandbox.merged / InstanceDirs("pbx").recordings.lstrip("/")
        await threads.deferToThread(_mount_tmpfs, folder, size_kib)
        try:
            async with self.controller() as ctl, self.city() as city, \
                    self.callbacks_around(city, ctl.db) as cbs:
                stopped = not ctl.recording_space.check()
                await self.strike(cbs, ctl.db)
                placing = await self.burst(city, numbers)
                await placing
                counted = await self.settle(self._count_with(ctl.db, numbers), numbers)
                figures = await self.callbacks_settled(cbs, ctl.db)
        finally:
            await threads.deferToThread(_unmount, folder)
        return self._result("recordings disk full", numbers, counted, started,
                            note="recording stopped, alert raised" if stopped
                            else "recording NOT stopped", callbacks=figures)

    async def ami_link_cut(self, cut_s: float) -> FaultResult:
        """The network between controller and AMI fails for ``cut_s`` during a burst."""
        started = self.reactor.seconds()
        numbers = self.numbers()
        cutter = LinkCutter("127.0.0.1", self.config["pbx"]["ami_port"])
        cfg = self.config.with_overrides({"pbx": {"ami_port": cutter.listen()},
                                          "calls": {"reconcile_interval_s": 2.0}})
        try:
            async with self.controller(cfg) as ctl, self.city() as city, \
                    self.callbacks_around(city, ctl.db) as cbs:
                placing = await self.burst(city, numbers)
                await self.sleep(0.5)
                await self.strike(cbs, ctl.db)
                cutter.cut()
                await placing
                await self.sleep(cut_s)
                cutter.restore()
                counted = await self.settle(self._count_with(ctl.db, numbers), numbers)
                figures = await self.callbacks_settled(cbs, ctl.db)
        finally:
            cutter.close()
        return self._result("AMI link cut", numbers, counted, started,
                            note=f"{cut_s:g} s without AMI", callbacks=figures)

    # -- subprocess controllers ---------------------------------------------------------------------

    def _config_file(self) -> Path:
        path = self.state_dir / "faults-controller.toml"
        path.write_text(self.config.to_toml())
        return path

    async def _spawn_controller(self, conf: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "hotline", "--config", str(conf), "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, env=dict(os.environ))
        ready = await threads.deferToThread(_wait_line, proc, "controller running", 60.0)
        if not ready:
            proc.kill()
            raise RuntimeError("the controller did not come up in 60 s")
        return proc

    async def _stop_controller(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await threads.deferToThread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                await threads.deferToThread(proc.wait)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_line(proc: subprocess.Popen, text: str, timeout: float) -> bool:
    """Whether the process printed a line holding ``text`` within ``timeout``; its output is
    read (and dropped) for as long as it runs, so a full pipe never stalls it."""
    import threading

    seen = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        try:
            for raw in iter(proc.stderr.readline, b""):
                if text.encode() in raw:
                    seen.set()
        except (OSError, ValueError):
            pass

    threading.Thread(target=read, daemon=True, name="controller-stderr").start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if seen.wait(0.5):
            return True
    return seen.is_set()


def _mount_tmpfs(folder: Path, size_kib: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
                   check=True, capture_output=True)
    # Fill it: what a disk that filled up looks like.
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:
        f.write(b"\0" * size_kib * 1024)


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)

