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

from bench._util import median, spread

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
    parser.add_argument("--runs", type=int, default=3, help="runs of every server (median)")
    parser.add_argument("--only", action="append",
                        choices=["ours", "panoramisk", "threaded", "twisted-floor", "floor"])
    args = parser.parse_args(argv)
    wanted = args.only or ["ours", "panoramisk", "threaded", "twisted-floor", "floor"]
    kw = {"sessions": args.sessions, "concurrency": args.concurrency, "warmup": args.warmup}

    names = {"ours": "ours (hotline.agi, Twisted)",
             "panoramisk": "panoramisk FastAGI (asyncio)",
             "threaded": "ThreadingTCPServer (thread/session)",
             "twisted-floor": "floor on Twisted: bare Protocol",
             "floor": "floor: bare epoll loop, no framework"}
    scripts = {"ours": "agi_hotline.py", "panoramisk": "agi_panoramisk.py",
               "threaded": "agi_threaded.py",
               "twisted-floor": "agi_twisted_floor.py", "floor": "agi_floor.py"}
    pythons: dict[str, Path | str | None] = {}
    notes: dict[str, str] = {}
    for key in wanted:
        if key == "panoramisk":
            python, why = _panoramisk_python()
            pythons[key] = python
            if python is None:
                notes[key] = why
        else:
            pythons[key] = sys.executable

    load_before = os.getloadavg()[0]
    # Servers take turns within each run, so a change in the machine's load hits them alike.
    runs: list[dict[str, Outcome]] = []
    for _ in range(args.runs):
        this_run: dict[str, Outcome] = {}
        for key in wanted:
            python = pythons[key]
            if python is None:
                continue
            outcome = measure(names[key], python, scripts[key], **kw)
            if outcome.note:
                notes[key] = outcome.note
            this_run[key] = outcome
        runs.append(this_run)

    def series(key: str, attr: str) -> list[float]:
        values = []
        for run in runs:
            outcome = run.get(key)
            if outcome is None or outcome.cpu_us is None or outcome.failures:
                continue
            if attr == "rate":
                values.append(outcome.sessions / outcome.wall_s if outcome.wall_s else 0.0)
            else:
                values.append(getattr(outcome, attr))
        return [v for v in values if v]

    print(f"FastAGI: {args.sessions} sessions (25-line block + GET VARIABLE, SET VARIABLE, "
          f"EXEC NoOp), {args.concurrency} in flight, {args.runs} runs; load average "
          f"{load_before:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("cpu = the server process's own CPU time (user + system) per session: the goal's "
          f"measure (ours <= {GOAL_US:.0f} us), steady under load. wall = sessions/s the load "
          "client saw end to end (client and server share the 2 CPUs with everything else). "
          "Medians over the runs, spread = min-max.")
    header = (f"{'server':38} {'cpu us/sess':>11} {'spread':>9} {'user':>6} {'sys':>6} "
              f"{'wall sess/s':>11} {'spread':>11}  note")
    print(header)
    print("-" * len(header))
    figures: dict[str, dict[str, float | None]] = {}
    for key in wanted:
        cpu_values, rates = series(key, "cpu_us"), series(key, "rate")
        figures[key] = {"cpu": median(cpu_values), "user": median(series(key, "user_us")),
                        "sys": median(series(key, "sys_us")), "rate": median(rates)}
        f = figures[key]
        print(f"{names[key]:38} {_fmt(f['cpu']):>11} {spread(cpu_values):>9} "
              f"{_fmt(f['user'], '.0f'):>6} {_fmt(f['sys'], '.0f'):>6} "
              f"{_fmt(f['rate'], '.0f'):>11} {spread(rates):>11}  {notes.get(key, '')}")

    def cpu(key: str) -> float | None:
        value = figures.get(key, {}).get("cpu")
        return None if value is None else round(value, 1)

    def per_run_ratios(peer: str, attr: str) -> list[float]:
        values = []
        for run in runs:
            ours, theirs = run.get("ours"), run.get(peer)
            if ours is None or theirs is None or ours.cpu_us is None or theirs.cpu_us is None:
                continue
            if attr == "cpu":
                values.append(theirs.cpu_us / ours.cpu_us)
            elif ours.wall_s and theirs.wall_s:
                values.append((ours.sessions / ours.wall_s) / (theirs.sessions / theirs.wall_s))
        return values

    ours = cpu("ours")
    ratios: dict[str, float | None] = {}
    wall_ratios: dict[str, float | None] = {}
    spreads: dict[str, list[float] | None] = {}
    for peer in ("panoramisk", "threaded", "twisted-floor", "floor"):
        by_cpu, by_wall = per_run_ratios(peer, "cpu"), per_run_ratios(peer, "wall")
        m = median(by_cpu)
        ratios[f"{peer}_over_ours"] = round(m, 2) if m else None
        spreads[f"{peer}_over_ours"] = [round(min(by_cpu), 2), round(max(by_cpu), 2)] \
            if by_cpu else None
        w = median(by_wall)
        wall_ratios[f"ours_over_{peer}"] = round(w, 2) if w else None
        spreads[f"ours_over_{peer}_wall"] = [round(min(by_wall), 2), round(max(by_wall), 2)] \
            if by_wall else None
    if ours is not None:
        print(f"ours: {ours} us CPU/session -> goal {'met' if ours <= GOAL_US else 'NOT met'}")
        print("CPU per session, theirs / ours (per run, median): "
              + ", ".join(f"{k} = {v} ({spread(spreads[k] or [], '.2f')})"
                          for k, v in ratios.items()))
        print("wall sessions/s, ours / theirs (per run, median): "
              + ", ".join(f"{k} = {v} ({spread(spreads[k + '_wall'] or [], '.2f')})"
                          for k, v in wall_ratios.items()))
    cpu_spread = series("ours", "cpu_us")
    print(json.dumps({
        "cpu_us_per_session": ours,
        "cpu_us_per_session_panoramisk": cpu("panoramisk"),
        "cpu_us_per_session_threaded": cpu("threaded"),
        "cpu_us_per_session_twisted_floor": cpu("twisted-floor"),
        "cpu_us_per_session_floor": cpu("floor"),
        "cpu_us_per_session_spread": ([round(min(cpu_spread), 1), round(max(cpu_spread), 1)]
                                      if cpu_spread else None),
        "user_us_per_session": {k: None if f["user"] is None else round(f["user"], 1)
                                for k, f in figures.items()},
        "sys_us_per_session": {k: None if f["sys"] is None else round(f["sys"], 1)
                               for k, f in figures.items()},
        "sessions_per_s_wall": {k: None if f["rate"] is None else round(f["rate"])
                                for k, f in figures.items()},
        "sessions": args.sessions,
        "concurrency": args.concurrency,
        "runs": args.runs,
        "sessions_completed": {key: [o.sessions for r in runs if (o := r.get(key))]
                               for key in wanted},
        "ratios": ratios,
        "wall_ratios": wall_ratios,
        "ratio_spreads": spreads,
        "goal_us": GOAL_US,
        "goal_met": ours is not None and ours <= GOAL_US,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "notes": notes,
    }))


if __name__ == "__main__":
    main()
