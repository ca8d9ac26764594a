"""200 citizens in 10 s into the hotline: CPU and memory of Asterisk and of the controller.

    python -m bench.burst [--calls 200] [--rate 20] [--hold 14]

Two runs on one fresh PBX sandbox (its own ports and run directory), the same traffic each:

- reference: Asterisk alone. The controller is not running, so every call takes the dialplan's
  fail-open path (no lookup, no rows); agents are put in the queue over raw AMI.
- ours: the full flow. The controller runs in this process (FastAGI lookup and call row, live
  state, finaliser, reconciler, agents through AgentService) and every call must end up with
  its row.

CPU is read from /proc (user + system time of the PBX's process tree, and of this process for
the controller), memory as peak RSS sampled every 0.25 s. The last line is JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, task, threads

from bench._util import print_json_line, print_table

AGENTS = ("1001", "1002", "1003", "1004")
#: The bench sandbox's ports: the defaults + 2000, away from `make run` and the test suite.
PORT_SHIFT = 2000
_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _cpu_rss(pids: list[int]) -> tuple[float, float]:
    """CPU seconds (user+system) and RSS in MB of ``pids``, summed."""
    cpu = rss = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / _TICK
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


class Sampler:
    """Peak RSS of a process tree, sampled on the reactor every 0.25 s; CPU from start to stop."""

    def __init__(self, clock, pid: int, *, tree: bool = True) -> None:
        # Asterisk is one process of many threads: /proc/PID/stat already sums them, so the
        # tree (sandbox wrapper + Asterisk) is listed once, not walked per sample.
        self.pids = _tree(pid) if tree else [pid]
        self.peak_rss = 0.0
        self.cpu0 = _cpu_rss(self.pids)[0]
        self.cpu = 0.0
        self._loop = task.LoopingCall(self._sample)
        self._loop.clock = clock
        self._loop.start(0.25)

    def _sample(self) -> None:
        cpu, rss = _cpu_rss(self.pids)
        self.peak_rss = max(self.peak_rss, rss)
        self.cpu = cpu - self.cpu0

    def stop(self) -> None:
        self._sample()
        self._loop.stop()


def _config(state_dir: Path):
    from hotline import config as config_mod

    s = PORT_SHIFT
    return config_mod.loads("", source="bench").with_overrides({
        "site": {"state_dir": str(state_dir)},
        "pbx": {"sip_port": 15060 + s, "ami_port": 15038 + s, "http_port": 15088 + s,
                "rtp_start": 36000, "rtp_end": 38499},
        "city": {"sip_port": 15070 + s, "phones_port": 15080 + s, "ami_port": 15039 + s,
                 "rtp_start": 38500, "rtp_end": 40999},
        "agi": {"port": 14573 + s},
    })


async def _client(reactor, cfg, which: str, events: str = "on"):
    from hotline.ami.client import AMIClient
    from hotline.pbx.sandbox import Sandbox

    creds = Sandbox(cfg).secrets()[f"{which}_ami"]
    client = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                       port=cfg[which]["ami_port"], reactor=reactor, events=events)
    client.start()
    await client.when_ready()
    return client


async def _channels(ami) -> int:
    reply = await ami.action("CoreShowChannels")
    return len([m for m in reply if m.get("Event") == "CoreShowChannel"])


async def _quiet(reactor, ami, timeout: float = 180) -> None:
    """Wait until the PBX has no channel left (every call of the run has ended)."""
    deadline = reactor.seconds() + timeout
    while await _channels(ami):
        if reactor.seconds() > deadline:
            raise RuntimeError("calls still up after the run's time limit")
        await task.deferLater(reactor, 0.5, lambda: None)


async def _run(reactor, cfg, *, numbers, rate, hold, ours: bool) -> dict:
    from sqlalchemy import func, select

    from db.models import Call
    from hotline.controller import Controller
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.burst import place_burst
    from hotline.sim.city import CitySimulator

    sandbox = Sandbox(cfg)
    pbx_pid = sandbox.status()["pbx"].pid
    # The city's events would be parsed in this process and counted as the controller's CPU.
    city_ami = await _client(reactor, cfg, "city", events="off")
    city = CitySimulator(ami=city_ami, hotline_number=cfg["site"]["hotline_number"])
    for code in AGENTS:
        await city.set_agent(code, delay_s=0.5, tone="1000")
    controller = None
    pbx_ami = await _client(reactor, cfg, "pbx", events="off")
    if ours:
        controller = Controller(config=cfg, reactor=reactor)
        await controller.start()
        for code in AGENTS:
            await controller.agents.login(code)
    else:
        for code in AGENTS:
            await pbx_ami.action("QueueAdd", Queue="hotline", Interface=f"PJSIP/agent-{code}",
                                 MemberName=f"agent {code}")
    pbx = Sampler(reactor, pbx_pid)
    # This process only: the sandbox's Asterisks were started from here and are its children.
    me = Sampler(reactor, os.getpid(), tree=False)
    t0 = reactor.seconds()
    await place_burst(city, reactor, numbers, per_second=rate, hold_s=hold, tone="400")
    await _quiet(reactor, pbx_ami)
    rows = None
    if controller is not None:
        def count(s):
            return s.scalar(select(func.count()).select_from(Call).where(
                Call.caller_number.in_(numbers), Call.ended_at.is_not(None)))
        deadline = reactor.seconds() + 60
        while (rows := await controller.db.run(count)) < len(numbers) \
                and reactor.seconds() < deadline:
            await task.deferLater(reactor, 0.5, lambda: None)
    wall = reactor.seconds() - t0
    pbx.stop()
    me.stop()
    if controller is not None:
        for code in AGENTS:
            await controller.agents.logout(code)
        await controller.stop()
    else:
        for code in AGENTS:
            await pbx_ami.action("QueueRemove", Queue="hotline", Interface=f"PJSIP/agent-{code}")
    await pbx_ami.stop()
    await city_ami.stop()
    return {"wall_s": wall, "pbx_cpu_s": pbx.cpu, "pbx_peak_rss_mb": pbx.peak_rss,
            "controller_cpu_s": me.cpu if ours else None,
            "controller_peak_rss_mb": me.peak_rss if ours else None, "rows": rows}


async def main(reactor, args) -> None:
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.burst import burst_numbers

    state = Path(tempfile.mkdtemp(prefix="hotline-bench-burst-"))
    cfg = _config(state)
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda line: print(line, file=sys.stderr))
    try:
        ref = await _run(reactor, cfg, numbers=burst_numbers(args.calls, prefix="1392"),
                         rate=args.rate, hold=args.hold, ours=False)
        ours = await _run(reactor, cfg, numbers=burst_numbers(args.calls, prefix="1393"),
                          rate=args.rate, hold=args.hold, ours=True)
    finally:
        await threads.deferToThread(sandbox.stop, log=lambda line: None)
    n = args.calls
    print(f"{n} calls at {args.rate:g}/s, citizens hang up {args.hold:g} s after the answer, "
          f"{len(AGENTS)} simulated agents; CPU = user+system seconds over the whole run")
    print_table(
        ["run", "Asterisk CPU s", "Asterisk peak RSS MB", "controller CPU s",
         "controller peak RSS MB", "rows", "wall s"],
        [["reference: Asterisk alone (fail-open)", f"{ref['pbx_cpu_s']:.2f}",
          f"{ref['pbx_peak_rss_mb']:.0f}", "-", "-", "-", f"{ref['wall_s']:.1f}"],
         ["ours: full flow with the controller", f"{ours['pbx_cpu_s']:.2f}",
          f"{ours['pbx_peak_rss_mb']:.0f}", f"{ours['controller_cpu_s']:.2f}",
          f"{ours['controller_peak_rss_mb']:.0f}", f"{ours['rows']}/{n}",
          f"{ours['wall_s']:.1f}"]])
    print_json_line({
        "calls": n, "rate_per_s": args.rate, "rows": ours["rows"],
        "rows_complete": ours["rows"] == n,
        "asterisk_cpu_s": round(ours["pbx_cpu_s"], 3),
        "asterisk_peak_rss_mb": round(ours["pbx_peak_rss_mb"], 1),
        "controller_cpu_s": round(ours["controller_cpu_s"], 3),
        "controller_cpu_ms_per_call": round(1000 * ours["controller_cpu_s"] / n, 2),
        "controller_peak_rss_mb": round(ours["controller_peak_rss_mb"], 1),
        "reference_asterisk_cpu_s": round(ref["pbx_cpu_s"], 3),
        "reference_asterisk_peak_rss_mb": round(ref["pbx_peak_rss_mb"], 1),
        "asterisk_cpu_ratio_vs_reference": round(ours["pbx_cpu_s"] / ref["pbx_cpu_s"], 3)
        if ref["pbx_cpu_s"] else None,
    })


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--hold", type=float, default=14.0)
    args = p.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, args)))


if __name__ == "__main__":
    cli()
