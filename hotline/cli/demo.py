# -*- test-case-name: tests.test_demo -*-
"""What `make run` shows a newcomer: the sandbox, the controller and a few citizens calling in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, threads
from twisted.internet.task import deferLater
from twisted.logger import Logger

from hotline.ami.client import AMIClient
from hotline.calls.events import (
    AgentCallCompleted,
    CallAnswered,
    CallbackProgress,
    CallQueued,
    SurveyAnswered,
)
from hotline.config import Config
from hotline.controller import Controller
from hotline.pbx.sandbox import Sandbox, SandboxError
from hotline.sim.city import CitySimulator
from hotline.sim.speech import synthesise
from hotline.terminal import say

__all__ = ["run_demo", "load_history", "SAMPLE_CALLS"]

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hotline.indices.history import HistoryResult

_log = Logger(namespace="hotline.demo")

#: Sample citizens: number, and what they say (tone-numbered pinyin for espeak-ng), with the
#: Chinese for the reader of this file.
SAMPLE_CALLS: list[tuple[str, str, str]] = [
    ("13800138000", "wo3 jia1 ting2 shui3 le, qing3 bang1 mang2 cha2 yi2 xia4.",
     "我家停水了，请帮忙查一下。"),
    ("13911112222", "lou2 xia4 de lu4 deng1 huai4 le san1 tian1 le.", "楼下的路灯坏了三天了。"),
    ("13700001111", "wo3 xiang3 zi1 xun2 yi2 xia4 ban4 li3 ju1 zhu4 zheng4.",
     "我想咨询一下办理居住证。"),
]
#: The sample call the agent bridges to the water company (what the desk's Bridge button does).
#: That citizen stays on longer than the others (seconds after the hotline answers), so the
#: three-way call, the agent leaving it, and citizen and department talking on all fit.
_BRIDGED_CALL = 1
_HOLD_S, _BRIDGED_HOLD_S = 25, 50


def _say(line: str) -> None:
    say(line)


async def run_demo(reactor: Any, cfg: Config, *, calls: int, keep_sandbox: bool,
                   log_path: Path, history: bool = True) -> None:
    """Start everything, load the SAMPLE history (unless ``history`` is False), place
    ``calls`` sample calls, narrate, and stop on Ctrl-C."""
    sandbox = Sandbox(cfg)
    started_here = False
    if not all(s.running for s in sandbox.status().values()):
        _say("starting the PBX sandbox (hotline PBX + city simulator) ...")
        try:
            await threads.deferToThread(sandbox.start, log=_say)
        except SandboxError as e:
            from hotline.cli.main import CommandError
            raise CommandError(str(e)) from None
        started_here = True

    # The demo shows a callback being placed whatever the hour: no quiet hours here.
    # The only Vosk model shipped with the project is Korean (a site configures its Mandarin
    # model by path): the demo transcribes with it, and the notes say the language differs.
    cfg = cfg.with_overrides({"scheduler": {"quiet_hours": ""}, "stt": {"model": "ko-small"}})
    controller = Controller(config=cfg, reactor=reactor)
    city_creds = sandbox.secrets()["city_ami"]
    city_ami = AMIClient(username=city_creds["username"], secret=city_creds["secret"],
                         host="127.0.0.1", port=cfg["city"]["ami_port"], reactor=reactor)
    city = CitySimulator(ami=city_ami, hotline_number=cfg["site"]["hotline_number"])

    async def shutdown() -> None:
        """Every step runs whatever the one before did: a failed logout or a console that does
        not close must not leave the thread pools and both Asterisk instances running."""
        _say("stopping ...")
        for agent in agents:
            try:
                await controller.agents.logout(agent)
            except Exception as e:  # the PBX may be gone already; the records say so
                _say(f"agent {agent} not logged out: {e}")
        steps = [("controller", controller.stop), ("city AMI link", city_ami.stop)]
        if started_here and not keep_sandbox:
            steps.append(("PBX sandbox",
                          lambda: threads.deferToThread(sandbox.stop, log=_say)))
        for name, stop in steps:
            try:
                await stop()
            except Exception:
                _log.failure("demo stop: the {part} did not stop cleanly", part=name)

    agents = cfg["queue"]["agents"][:2]
    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: defer.Deferred.fromCoroutine(shutdown()))
    await controller.start()
    from hotline.web.accounts import ensure_demo_accounts

    passwords = await controller.db.run(ensure_demo_accounts, agents)
    web = cfg["web"]
    _say(f"console: http://{web['bind']}:{controller.web.port}/  accounts (new passwords each "
         "run): " + ", ".join(f"{u} / {p}" for u, p in passwords.items()))
    await _seed_directory(controller, cfg)
    await _demo_grid_worker(controller)
    if history:
        await _demo_history(controller, cfg)
    city_ami.start()
    await city_ami.when_ready()
    _narrate(controller)
    _bridge_second_call(reactor, controller, city)

    sim_sounds = sandbox.var_dir / "sounds" / "sim"
    # espeak-ng and sox are subprocesses: run them off the reactor.
    answer = await threads.deferToThread(
        synthesise, "nin2 hao3, san1 liu4 wu3 re4 xian4, qing3 jiang3.", sim_sounds)
    for agent in agents:
        await city.set_agent(agent, delay_s=1.5, play=_inside(sandbox, answer))
        await controller.agents.login(agent, name=f"演示坐席 {agent}")
    _say(f"simulated agents {', '.join(agents)} are logged in to queue "
         f"'{cfg['queue']['name']}' and answer after 1.5 s")
    _say(f"logs: {log_path} (controller, one JSON event per line); "
         f"{sandbox.var_dir}/pbx/log/messages.log (PBX)")
    _say(f"recordings: {sandbox.var_dir}/pbx/recordings/")
    for n, (number, pinyin, hanzi) in enumerate(SAMPLE_CALLS[:calls]):
        speech = await threads.deferToThread(synthesise, pinyin, sim_sounds)
        await city.call(number, play=_inside(sandbox, speech), pause_s=10,
                        hold_s=_BRIDGED_HOLD_S if n == _BRIDGED_CALL else _HOLD_S)
        _say(f"citizen {number} calls 83658365 and will say: {hanzi}")
        await deferLater(reactor, 3, lambda: None)
    await _promise_callback(controller, city, cfg, SAMPLE_CALLS[0][0], due_in_s=40)
    _say("sample calls placed; the hotline keeps running. Ctrl-C stops everything.")
    await defer.Deferred()  # until Ctrl-C


async def _promise_callback(controller: Controller, city: CitySimulator, cfg: Config,
                            number: str, *, due_in_s: float) -> None:
    """A timed reply promised to ``number``: the scheduler rings a free agent, then the citizen."""
    import datetime as dt

    from hotline.tickets.service import TicketService
    from scheduler import store

    await city.set_number(number, mode="answer", delay_s=1)
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=due_in_s)

    def promise(s: Any) -> str:
        ticket = TicketService(timezone=cfg["site"]["timezone"]).intake(s, {
            "channel": "hotline", "kind": "help", "phone": number,
            "description": "演示：停水问题，承诺回电"}, actor="demo")
        store.promise(s, ticket.id, due, owner_code=None, actor="demo",
                      timezone=cfg["site"]["timezone"])
        return ticket.number
    ticket_number = await controller.db.run(promise)
    _say(f"ticket {ticket_number}: a callback to {number} is promised in {due_in_s:g} s; "
         "the scheduler will ring a free agent, then the citizen")


async def _seed_directory(controller: Controller, cfg: Config) -> None:
    """The sample grids and municipal hotlines, once per demo database: the console's directory
    search and the Bridge button have something to find (a site imports its own CSV)."""
    from hotline.directory.service import DirectoryService
    from hotline.sample import AlreadySeeded, seed_sample

    def seed(s: Any) -> int | None:
        try:
            return seed_sample(s, DirectoryService(timezone=cfg["site"]["timezone"])) \
                .directory_entries
        except AlreadySeeded:
            return None
    entries = await controller.db.run(seed)
    if entries is not None:
        await controller.db.run(controller.web.directory.refresh)
        _say(f"sample directory loaded: {entries} municipal hotlines (search 'gs' for 供水)")


async def _demo_grid_worker(controller: Controller) -> None:
    """A grid worker account on the sample grid G001 with a fresh password, for /grid/ on a
    phone (or a narrow browser window)."""
    import secrets

    from sqlalchemy import select

    from db.models import ConsoleUser
    from hotline.grid.exceptions import GridError
    from hotline.web import accounts

    service = controller.deps.grid.service
    password = secrets.token_urlsafe(9)

    def ensure(s: Any) -> None:
        if s.scalar(select(ConsoleUser).where(ConsoleUser.username == "grid1")) is None:
            accounts.create_user(s, "grid1", role="grid_worker", password=password,
                                 display_name="演示网格员")
        else:
            accounts.set_password(s, "grid1", password)
        service.bind(s, "grid1", "G001")

    try:
        await controller.db.run(ensure)
    except GridError as e:
        _say(f"no demo grid worker: {e.message}")
        return
    _say(f"grid worker's phone page: http://{controller.config['web']['bind']}:"
         f"{controller.web.port}/grid/  grid1 / {password} (SAMPLE grid G001)")


def load_history(session: Session, *, today: dt.date, timezone: str, now: dt.datetime,
                 **size: int) -> HistoryResult | None:
    """The demo's SAMPLE history (L{demo_history}; C{size}: its C{days}, C{per_day}), written
    as the past it stands for: the scheduler, already scanning, owes none of its closed
    tickets a survey (else it would ring thousands of sample citizens a minute after the
    load, and the line would drown)."""
    from hotline.indices.history import demo_history
    from scheduler.store import skip_surveys_so_far

    written = demo_history(session, today=today, timezone=timezone, now=now, **size)
    if written is not None:
        skip_surveys_so_far(session, now)
    return written


async def _demo_history(controller: Controller, cfg: Config) -> None:
    """90 days of generated SAMPLE history, then the indices folded and scanned, so the
    leader's page, the warnings and the reports show something on the first run."""
    import time
    import zoneinfo

    zone = cfg["site"]["timezone"]
    now = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    written = await controller.db.run(load_history, today=now.astimezone(
        zoneinfo.ZoneInfo(zone)).date(), timezone=zone, now=now)
    if written is None:
        _say("SAMPLE history already loaded (hotline demo --no-history skips it)")
    else:
        _say(f"loaded SAMPLE history: {written.tickets:,} tickets, {written.events:,} events, "
             f"{written.surveys:,} ratings, {written.calls:,} calls ({written.abandoned:,} "
             f"abandoned), {written.agent_changes:,} agent state changes, "
             f"{written.callbacks:,} callbacks, {written.grid_logs:,} grid-worker logs, "
             f"{written.grid_visits:,} visits over {written.first_day} .. {written.last_day} "
             f"in {time.monotonic() - started:.1f} s (numbers SX…, agents 99xx, text 示例数据; "
             "--no-history skips it)")
    indices = controller.web.indices
    if indices is not None:
        result = await indices.refresh_now()
        _say(f"indices folded ({len(result['folded'])} days), early warnings raised: "
             f"{len(result['raised'])}; the leader's page: http://{cfg['web']['bind']}:"
             f"{controller.web.port}/leader")


def _bridge_second_call(reactor: Any, controller: Controller, city: CitySimulator) -> None:
    """Once the second sample citizen is talking, bring the water company into the call, then
    let the agent leave: citizen and department talk on (what the desk's Bridge button does)."""
    citizen = SAMPLE_CALLS[_BRIDGED_CALL][0]
    subscription: list[Any] = []

    def answered(event: CallAnswered) -> None:
        call = controller.tracker.calls.get(event.uniqueid)
        if call is None or call.caller != citizen or not subscription:
            return
        subscription.pop().cancel()
        d = deferLater(reactor, 4, lambda: None)
        d.addCallback(lambda _: defer.Deferred.fromCoroutine(
            _bridge(reactor, controller, city, event.uniqueid)))
        d.addErrback(lambda f: _say(f"  bridge demo: {f.getErrorMessage()}"))

    subscription.append(controller.bus.subscribe(CallAnswered, answered))


async def _bridge(reactor: Any, controller: Controller, city: CitySimulator, uid: str) -> None:
    from sqlalchemy import select

    from db.models import MunicipalHotline

    entry = await controller.db.run(lambda s: s.scalars(
        select(MunicipalHotline).where(MunicipalHotline.name.contains("供水"))
        .order_by(MunicipalHotline.id)).first())
    if entry is None or controller.bridge is None:
        _say("  bridge demo skipped: no 供水 entry in the directory")
        return
    await city.set_number(entry.number, mode="answer", delay_s=1)
    _say(f"  [{uid}] the agent brings {entry.name} ({entry.number}) into the call")
    attempt = await controller.bridge.bridge(uid, entry.id)
    outcome = await attempt.leg.done
    _say(f"  [{uid}] {entry.name}: {outcome}")
    if outcome != "answered":
        return
    await deferLater(reactor, 6, lambda: None)
    await controller.bridge.leave(uid)
    _say(f"  [{uid}] the agent left; the citizen and {entry.name} talk on")


def _inside(sandbox: Sandbox, host_path: Path) -> str:
    """The path the sandbox's Asterisk sees for a host file, without extension (Playback)."""
    rel = host_path.relative_to(sandbox.var_dir)
    return f"/srv/hotline/{rel.with_suffix('')}"


def _narrate(controller: Controller) -> None:
    """Print what happens to each call, as a supervisor watching the floor would tell it: from
    the call tracker's events, as every other consumer of calls reads them."""

    def caller(uniqueid: str) -> str:
        call = controller.tracker.calls.get(uniqueid)
        return (call.caller if call is not None else None) or "?"

    def queued(e: CallQueued) -> None:
        _say(f"  [{e.uniqueid}] {caller(e.uniqueid)} waits in queue {e.queue} "
             f"(position {e.position})")

    def answered(e: CallAnswered) -> None:
        _say(f"  [{e.uniqueid}] {caller(e.uniqueid)} answered by agent "
             f"{e.agent_code or e.agent_interface} after {e.hold_time} s")

    def completed(e: AgentCallCompleted) -> None:
        if e.node is None:  # this node's own calls
            _say(f"  [{e.uniqueid}] call ended after {e.talk_time} s of talk "
                 f"({e.reason} hung up)")

    def callback(e: CallbackProgress) -> None:
        what = {"agent": "the agent answered, dialling the citizen",
                "citizen": "the citizen answered",
                "end": f"ended ({e.dial_status or 'done'})"}.get(e.stage, e.stage)
        _say(f"  [callback {e.key}] {what}")

    def survey(e: SurveyAnswered) -> None:
        _say(f"  [survey {e.key}] the citizen rated {e.digits or '(no digit)'}")

    controller.bus.subscribe_all({CallQueued: queued, CallAnswered: answered,
                                  AgentCallCompleted: completed, CallbackProgress: callback,
                                  SurveyAnswered: survey})
