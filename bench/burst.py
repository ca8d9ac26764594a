"""200 citizens in 10 s into the hotline: CPU and memory of Asterisk and of the controller.

    python -m bench.burst [--calls 200] [--rate 20] [--hold 14] [--rounds 2] [--profile FILE]

One fresh PBX sandbox (its own ports: the defaults + 8000 + ``HOTLINE_TEST_PORT_SHIFT``), the
same traffic in every run, the runs interleaved (reference, ours, reference, ours, ...):

- reference: Asterisk alone. No controller runs, so every call takes the dialplan's fail-open
  path (no lookup, no rows); agents are put in the queue over raw AMI.
- ours: the full flow. The controller runs as ``hotline run`` in a process of its own (FastAGI
  lookup and call row, live state, finaliser, reconciler, scheduler, console, speech-to-text
  bookkeeping), agents log in with ``hotline agent login``, and every call must end up with
  its row.

This process only generates the traffic (the city simulator's AMI, events off) and reads
/proc: CPU is user + system time of the PBX's process tree and of the controller's process over
the run (from the first call to the last row), memory their peak RSS sampled every 0.25 s.
``controller_cpu_ms_per_call`` is the controller's CPU over all "ours" runs ÷ their calls;
``controller_cpu_ratio_vs_asterisk`` that CPU ÷ Asterisk's CPU in the same runs. The last line
is JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, task, threads

from bench._util import print_json_line, print_table, remove_sandbox_state

AGENTS = ("1001", "1002", "1003", "1004")
#: The bench sandbox's ports: the defaults + 8000 (+ the developer's own test shift), above
#: every test sandbox's (16000 + shift + 100 per sandbox) and away from `make run`.
PORT_SHIFT = 8000 + int(os.environ.get("HOTLINE_TEST_PORT_SHIFT", "0"))
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


def _overrides(state_dir: Path) -> dict:
    s = PORT_SHIFT
    rtp = 42000 + s - 8000
    return {
        "site": {"state_dir": str(state_dir)},
        "pbx": {"sip_port": 15060 + s, "ami_port": 15038 + s, "http_port": 15088 + s,
                "rtp_start": rtp, "rtp_end": rtp + 2499},
        "city": {"sip_port": 15070 + s, "phones_port": 15080 + s, "ami_port": 15039 + s,
                 "rtp_start": rtp + 2500, "rtp_end": rtp + 4999},
        "agi": {"port": 14573 + s},
        "web": {"port": 15090 + s},
    }


def _config(state_dir: Path):
    from hotline import config as config_mod

    return config_mod.loads("", source="bench").with_overrides(_overrides(state_dir))


def _config_file(state_dir: Path) -> Path:
    """The same configuration as a TOML file, for the controller's own process."""
    from hotline.cli.config import _toml_value

    lines = []
    for section, values in _overrides(state_dir).items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path = state_dir / "bench.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _hotline(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    return subprocess.Popen([sys.executable, "-m", "hotline", "--config", str(config), *args],
                            stdout=out, stderr=out, start_new_session=True)


class ControllerProcess:
    """``hotline run`` in a process of its own, started and stopped by the bench."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen | None = None

    async def start(self, reactor) -> int:
        size = self.log.stat().st_size if self.log.exists() else 0
        self.proc = _hotline(self.config, "run", log=self.log)
        deadline = reactor.seconds() + 60
        while b"controller running" not in self.log.read_bytes()[size:]:
            if self.proc.poll() is not None or reactor.seconds() > deadline:
                self.proc.kill()  # not left running behind a failed bench
                self.proc.wait()
                raise RuntimeError(f"the controller did not start; see {self.log}")
            await task.deferLater(reactor, 0.2, lambda: None)
        return self.proc.pid

    async def agents(self, reactor, verb: str) -> None:
        """``hotline agent login|logout CODE`` for every simulated agent, as a person would."""
        for code in AGENTS:
            proc = _hotline(self.config, "agent", verb, code, log=self.log)
            code_ = await threads.deferToThread(proc.wait, 60)
            if code_ != 0:
                raise RuntimeError(f"hotline agent {verb} {code} failed; see {self.log}")

    async def stop(self, reactor) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await threads.deferToThread(self.proc.wait, 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await threads.deferToThread(self.proc.wait, 10)


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


async def _forget_summaries(ami) -> None:
    """Delete the call summaries the PBX keeps in AstDB for the controller. The reference
    run's 200 calls leave theirs (no controller took them), and ours would record them all
    at start-up: work for calls that are not the run's, which can spill into the measured
    window."""
    from hotline.ami.actions import AMIError
    from hotline.calls.reconciler import FAMILY

    try:
        await ami.action("DBDelTree", Family=FAMILY)
    except AMIError:
        pass  # none there: Asterisk calls deleting an empty family an error


async def _run(reactor, cfg, config_path: Path, *, numbers, rate, hold, ours: bool,
               profile: Path | None = None) -> dict:
    from sqlalchemy import func, select

    from db.models import Call
    from db.session import Database
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.burst import place_burst
    from hotline.sim.city import CitySimulator

    sandbox = Sandbox(cfg)
    pbx_pid = sandbox.status()["pbx"].pid
    # The city's events would only cost this process: it generates traffic, nothing more.
    city_ami = await _client(reactor, cfg, "city", events="off")
    city = CitySimulator(ami=city_ami, hotline_number=cfg["site"]["hotline_number"])
    for code in AGENTS:
        await city.set_agent(code, delay_s=0.5, tone="1000")
    controller = ControllerProcess(config_path, cfg.state_dir / "controller.log") if ours \
        else None
    pbx_ami = await _client(reactor, cfg, "pbx", events="off")
    controller_pid = None
    db = Database.from_config(cfg, reactor=reactor)
    db.start()
    spy = pbx = mine = None
    try:  # whatever fails, nothing this run started is left running
        if controller is not None:
            await _forget_summaries(pbx_ami)
            controller_pid = await controller.start(reactor)
            await controller.agents(reactor, "login")
        else:
            for code in AGENTS:
                await pbx_ami.action("QueueAdd", Queue="hotline",
                                     Interface=f"PJSIP/agent-{code}", MemberName=f"agent {code}")
        pbx = Sampler(reactor, pbx_pid)
        mine = Sampler(reactor, controller_pid, tree=False) if controller_pid else None
        if controller_pid and profile is not None:
            # py-spy samples from its own process (its CPU is not the controller's).
            spy_bin = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen([spy_bin, "record", "--threads", "--gil", "--nonblocking",
                                    "-r", "100", "-f", "raw", "-o", str(profile),
                                    "-p", str(controller_pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = reactor.seconds()
        await place_burst(city, reactor, numbers, per_second=rate, hold_s=hold, tone="400")
        await _quiet(reactor, pbx_ami)
        rows = None
        if controller is not None:
            def count(s):
                return s.scalar(select(func.count()).select_from(Call).where(
                    Call.caller_number.in_(numbers), Call.ended_at.is_not(None)))
            deadline = reactor.seconds() + 60
            while (rows := await db.run(count)) < len(numbers) \
                    and reactor.seconds() < deadline:
                await task.deferLater(reactor, 0.5, lambda: None)
        wall = reactor.seconds() - t0
        pbx.stop()
        if mine is not None:
            mine.stop()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await threads.deferToThread(spy.wait, 30)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        db.stop()
        if controller is not None:
            try:
                if controller_pid is not None:
                    await controller.agents(reactor, "logout")
            finally:
                await controller.stop(reactor)
        else:
            for code in AGENTS:
                await pbx_ami.action("QueueRemove", Queue="hotline",
                                     Interface=f"PJSIP/agent-{code}")
        await pbx_ami.stop()
        await city_ami.stop()
    return {"wall_s": wall, "pbx_cpu_s": pbx.cpu, "pbx_peak_rss_mb": pbx.peak_rss,
            "controller_cpu_s": mine.cpu if mine else None,
            "controller_peak_rss_mb": mine.peak_rss if mine else None, "rows": rows,
            "calls": len(numbers)}


async def main(reactor, args) -> None:
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.burst import burst_numbers

    state = Path(tempfile.mkdtemp(prefix="hotline-bench-burst-"))
    cfg = _config(state)
    config_path = _config_file(state)
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda line: print(line, file=sys.stderr))
    runs: list[tuple[str, dict]] = []
    try:
        for r in range(args.rounds):
            for ours, prefix in ((False, "139"), (True, "138")):
                numbers = burst_numbers(args.calls, prefix=f"{prefix}{r}")
                print(f"round {r + 1}: {'ours' if ours else 'reference'} ...", file=sys.stderr)
                runs.append(("ours" if ours else "reference",
                             await _run(reactor, cfg, config_path, numbers=numbers,
                                        rate=args.rate, hold=args.hold, ours=ours,
                                        profile=args.profile if r == 0 else None)))
    finally:
        await threads.deferToThread(sandbox.stop, log=lambda line: None)
        remove_sandbox_state(sandbox, state)
    n = args.calls
    print(f"{n} calls at {args.rate:g}/s per run, citizens hang up {args.hold:g} s after the "
          f"answer, {len(AGENTS)} simulated agents, {args.rounds} rounds interleaved; CPU = "
          "user+system seconds from the first call to the last row")
    rows_out = []
    for i, (kind, run) in enumerate(runs):
        ctl = run["controller_cpu_s"]
        rows_out.append([
            f"{i // 2 + 1} {'reference: Asterisk alone (fail-open)' if kind == 'reference' else 'ours: controller in its own process'}",
            f"{run['pbx_cpu_s']:.2f}", f"{run['pbx_peak_rss_mb']:.0f}",
            "-" if ctl is None else f"{ctl:.2f}",
            "-" if ctl is None else f"{1000 * ctl / run['calls']:.1f}",
            "-" if ctl is None else f"{ctl / run['pbx_cpu_s']:.3f}",
            "-" if run["controller_peak_rss_mb"] is None else f"{run['controller_peak_rss_mb']:.0f}",
            "-" if run["rows"] is None else f"{run['rows']}/{run['calls']}",
            f"{run['wall_s']:.1f}"])
    print_table(["round / run", "Asterisk CPU s", "Asterisk RSS MB", "controller CPU s",
                 "ms/call", "ctl ÷ Asterisk", "controller RSS MB", "rows", "wall s"], rows_out)
    ours_runs = [run for kind, run in runs if kind == "ours"]
    refs = [run for kind, run in runs if kind == "reference"]
    calls = sum(run["calls"] for run in ours_runs)
    rows = sum(run["rows"] or 0 for run in ours_runs)
    ctl_cpu = sum(run["controller_cpu_s"] for run in ours_runs)
    pbx_cpu = sum(run["pbx_cpu_s"] for run in ours_runs)
    ref_cpu = sum(run["pbx_cpu_s"] for run in refs)
    print_json_line({
        "calls_per_run": n, "rate_per_s": args.rate, "rounds": args.rounds,
        "rows": rows, "rows_lost": calls - rows, "rows_complete": rows == calls,
        "asterisk_cpu_s": round(pbx_cpu, 3),
        "asterisk_peak_rss_mb": round(max(r["pbx_peak_rss_mb"] for r in ours_runs), 1),
        "controller_cpu_s": round(ctl_cpu, 3),
        "controller_cpu_ms_per_call": round(1000 * ctl_cpu / calls, 2),
        "controller_cpu_ms_per_call_by_run": [round(1000 * r["controller_cpu_s"] / r["calls"], 2)
                                              for r in ours_runs],
        "controller_cpu_ratio_vs_asterisk": round(ctl_cpu / pbx_cpu, 3) if pbx_cpu else None,
        "controller_peak_rss_mb": round(max(r["controller_peak_rss_mb"] for r in ours_runs), 1),
        "reference_asterisk_cpu_s": round(ref_cpu, 3),
        "asterisk_cpu_ratio_vs_reference": round(pbx_cpu / ref_cpu, 3) if ref_cpu else None,
    })


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--hold", type=float, default=14.0)
    p.add_argument("--rounds", type=int, default=2, help="reference/ours pairs, interleaved")
    p.add_argument("--profile", type=Path, help="py-spy's raw samples of the controller's "
                   "threads during the first 'ours' run, to this file (needs py-spy)")
    args = p.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, args)))


if __name__ == "__main__":
    cli()
