"""FastAGI benchmark: server CPU microseconds per session, ours against panoramisk and threads.

Run from the repository root as C{python -m bench.agi [--sessions N] [--concurrency C]}.

Each server runs in a process of its own (panoramisk's in its own venv, bench/.venvs/panoramisk,
made on first run); the load client, playing Asterisk, runs in another. The server reads its own
CPU time (user + system, all threads) when told C{start} and C{stop}; the difference over the
sessions served is the figure. A warm-up run precedes the measured one. The last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
GOAL_US = 120.0


@dataclass
class Outcome:
    """One server's figures, or why it has none."""

    name: str
    cpu_us: float | None = None
    user_us: float | None = None
    sys_us: float | None = None
    sessions: int = 0
    failures: int = 0
    wall_s: float | None = None
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def _panoramisk_python() -> tuple[Path | None, str]:
    """The panoramisk venv's interpreter, created with C{venv} + pip on first use."""
    home = BENCH / ".venvs" / "panoramisk"
    python = home / "bin" / "python"
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
        check = subprocess.run([str(python), "-c", "import panoramisk.fast_agi"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            subprocess.run([str(python), "-m", "pip", "install", "-q", "panoramisk"],
                           check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines()
        return None, f"venv/pip failed: {detail[-1] if detail else error}"
    return python, ""


def _load(port: int, sessions: int, concurrency: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(PEERS / "agi_load.py"), "--port", str(port),
         "--sessions", str(sessions), "--concurrency", str(concurrency)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"load client failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, python: Path | str, script: str, *, sessions: int, concurrency: int,
            warmup: int) -> Outcome:
    """Start one server, warm it up, measure CPU over C{sessions}, stop it."""
    outcome = Outcome(name)
    server = subprocess.Popen([str(python), str(PEERS / script)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert server.stdin is not None and server.stdout is not None
    try:
        ready = server.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "READY":
            server.kill()
            err = server.communicate(timeout=10)[1].strip().splitlines()
            outcome.note = f"server did not start: {err[-1] if err else ready}"
            return outcome
        port = int(ready[1])
        if warmup:
            _load(port, warmup, concurrency)
        server.stdin.write("start\n")
        server.stdin.flush()
        server.stdout.readline()
        load = _load(port, sessions, concurrency)
        server.stdin.write("stop\n")
        server.stdin.flush()
        cpu = json.loads(server.stdout.readline())
        server.wait(timeout=30)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as error:
        outcome.note = f"failed: {error}"
        return outcome
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    outcome.sessions = int(load["sessions"])  # type: ignore[call-overload]
    outcome.failures = int(load["failures"])  # type: ignore[call-overload]
    outcome.wall_s = float(load["wall_s"])  # type: ignore[arg-type]
    if outcome.sessions == 0:
        outcome.note = f"no session completed ({outcome.failures} failed)"
        return outcome
    outcome.user_us = cpu["user_s"] * 1e6 / outcome.sessions
    outcome.sys_us = cpu["sys_s"] * 1e6 / outcome.sessions
    outcome.cpu_us = outcome.user_us + outcome.sys_us
    if outcome.failures:
        outcome.note = f"{outcome.failures} sessions failed"
    return outcome


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agi", description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--only", choices=["ours", "panoramisk", "threaded", "floor"],
                        action="append")
    args = parser.parse_args(argv)
    wanted = args.only or ["ours", "panoramisk", "threaded", "floor"]
    kw = {"sessions": args.sessions, "concurrency": args.concurrency, "warmup": args.warmup}

    load_before = os.getloadavg()[0]
    outcomes: dict[str, Outcome] = {}
    if "ours" in wanted:
        outcomes["ours"] = measure("ours (hotline.agi, Twisted)", sys.executable,
                                   "agi_hotline.py", **kw)
    if "panoramisk" in wanted:
        python, why = _panoramisk_python()
        if python is None:
            outcomes["panoramisk"] = Outcome("panoramisk FastAGI (asyncio)", note=why)
        else:
            outcomes["panoramisk"] = measure("panoramisk FastAGI (asyncio)", python,
                                             "agi_panoramisk.py", **kw)
    if "threaded" in wanted:
        outcomes["threaded"] = measure("ThreadingTCPServer (thread/session)", sys.executable,
                                       "agi_threaded.py", **kw)

    if "floor" in wanted:
        outcomes["floor"] = measure("floor: bare epoll loop, no framework", sys.executable,
                                    "agi_floor.py", **kw)

    print(f"FastAGI: {args.sessions} sessions (25-line block + GET VARIABLE, SET VARIABLE, "
          f"EXEC NoOp), {args.concurrency} in flight; server CPU per session (goal: ours "
          f"<= {GOAL_US:.0f} us); load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs (other work on the machine inflates every row)")
    header = f"{'server':38} {'cpu us/sess':>11} {'user':>7} {'sys':>7} {'sessions':>8} " \
             f"{'sess/s':>8}  note"
    print(header)
    print("-" * len(header))
    for outcome in outcomes.values():
        rate = outcome.sessions / outcome.wall_s if outcome.wall_s else None
        print(f"{outcome.name:38} {_fmt(outcome.cpu_us):>11} {_fmt(outcome.user_us):>7} "
              f"{_fmt(outcome.sys_us):>7} {outcome.sessions:>8} {_fmt(rate, '.0f'):>8}  "
              f"{outcome.note}")

    def cpu(key: str) -> float | None:
        found = outcomes.get(key)
        return None if found is None or found.cpu_us is None else round(found.cpu_us, 1)

    ours = cpu("ours")
    ratios: dict[str, float | None] = {}
    for peer in ("panoramisk", "threaded", "floor"):
        theirs = cpu(peer)
        ratios[f"{peer}_over_ours"] = (round(theirs / ours, 2)
                                       if ours and theirs is not None else None)
    if ours is not None:
        print(f"ours: {ours} us/session -> goal {'met' if ours <= GOAL_US else 'NOT met'}; "
              + ", ".join(f"{k} = {v}" for k, v in ratios.items()))
    notes = {key: o.note for key, o in outcomes.items() if o.note}
    print(json.dumps({
        "cpu_us_per_session": ours,
        "cpu_us_per_session_panoramisk": cpu("panoramisk"),
        "cpu_us_per_session_threaded": cpu("threaded"),
        "cpu_us_per_session_floor": cpu("floor"),
        "sessions": args.sessions,
        "concurrency": args.concurrency,
        "sessions_completed": {key: o.sessions for key, o in outcomes.items()},
        "ratios": ratios,
        "goal_us": GOAL_US,
        "goal_met": ours is not None and ours <= GOAL_US,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "notes": notes,
    }))


if __name__ == "__main__":
    main()
