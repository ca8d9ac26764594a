"""AMI benchmark: events/s parsed into messages by our client, three reference peers and a ceiling.

Our client runs twice: as built (its framing and header look-up compiled, hotline/ami/_speedups.c)
and with the Python twins of those two steps in their place, so one run shows what the C buys.

Run from the repository root as C{python -m bench.ami [--events N] [--runs R]}. A fake Asterisk
in another process sends the banner, accepts a login and streams N realistic events (~10 lines
each, UTF-8 caller names, repeated ChanVariable) as fast as it can; each reader runs in its own
process (the peers each in their own venv under bench/.venvs/) and reports how many events
reached its handler, the wall-clock time that took and its own CPU time over the same span.

Two rates per reader: wall (events / elapsed seconds: what the goal names, but on a shared
machine other work steals the CPU in the middle of a run) and CPU (events / CPU seconds of the
reader's process: what the reader itself spent, much steadier under load). Readers take turns
within each of R runs, so load drifts hit them all alike; ratios are computed per run and the
median is reported with the spread (min-max). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from bench._util import (
    BENCH_DIR,
    median,
    peer_python,
    print_json_line,
    print_table,
    run_peer,
    spread,
)

PEERS_DIR = BENCH_DIR / "peers"
GOAL_EVENTS_PER_S = 250_000
GOAL_RATIOS = {"asterisk_ami": 3.0, "panoramisk": 5.0}

#: name -> (pip requirements or None for our own interpreter, script, key suffix)
READERS: dict[str, tuple[list[str] | None, str, str]] = {
    "raw socket (ceiling)": (None, "ami_raw.py", "raw_ceiling"),
    "hotline.ami (ours)": (None, "ami_ours.py", ""),
    "hotline.ami, Python twins": (None, "ami_ours_twins.py", "python_twins"),
    "asterisk-ami": (["asterisk-ami==0.1.7"], "ami_asterisk_ami.py", "asterisk_ami"),
    "panoramisk": (["panoramisk==1.4"], "ami_panoramisk.py", "panoramisk"),
    "pyst2": (["pyst2==0.5.1"], "ami_pyst2.py", "pyst2"),
}


def _key(base: str, suffix: str) -> str:
    return f"{base}_{suffix}" if suffix else base


def main(argv: list[str] | None = None) -> None:
    """Start the fake Asterisk, run every reader against it R times, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.ami")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of every reader (median)")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a reader may take")
    parser.add_argument("--stall", type=float, default=5.0,
                        help="seconds without an event after which a reader counts as stalled")
    parser.add_argument("--only", action="append", help="run only readers containing this")
    args = parser.parse_args(argv)

    chosen = {name: spec for name, spec in READERS.items()
              if not args.only or any(o in name for o in args.only)}
    load_before = os.getloadavg()[0]
    server = subprocess.Popen(
        [sys.executable, str(PEERS_DIR / "ami_server.py"), str(args.events)],
        stdout=subprocess.PIPE, text=True,
    )
    wall: dict[str, list[float]] = {name: [] for name in chosen}
    cpu: dict[str, list[float]] = {name: [] for name in chosen}
    per_run: list[dict[str, tuple[float | None, float | None]]] = []
    notes: dict[str, str] = {}
    readers_seen: set[str] = set()
    try:
        port, size = server.stdout.readline().split()  # type: ignore[union-attr]
        pythons: dict[str, object] = {}
        for name, (requirements, script, _) in chosen.items():
            python, why = (sys.executable, "") if requirements is None else peer_python(
                script.removesuffix(".py").removeprefix("ami_").replace("_", "-"), requirements
            )
            pythons[name] = python
            if python is None:
                notes[name] = why
        for _ in range(args.runs):
            this_run: dict[str, tuple[float | None, float | None]] = {}
            for name, (_, script, _) in chosen.items():
                python = pythons[name]
                if python is None:
                    this_run[name] = (None, None)
                    continue
                figures = run_peer(python, PEERS_DIR / script,  # type: ignore[arg-type]
                                   ["127.0.0.1", port, str(args.events), str(args.limit),
                                    str(args.stall)],
                                   timeout=args.limit + 60)
                note = figures.get("error") or figures.get("note") or ""
                if note:
                    notes[name] = note
                elif figures.get("reader") == "python" and script == "ami_ours.py":
                    notes[name] = "Python twins: hotline.ami._speedups is not built"
                if script == "ami_ours.py" and figures.get("reader"):
                    readers_seen.add(figures["reader"])
                rate = cpu_rate = None
                if "error" not in figures and figures.get("events") and not figures.get("note"):
                    if figures.get("seconds", 0) > 0:
                        rate = figures["events"] / figures["seconds"]
                        wall[name].append(rate)
                    if figures.get("cpu_seconds", 0) > 0:
                        cpu_rate = figures["events"] / figures["cpu_seconds"]
                        cpu[name].append(cpu_rate)
                elif "error" not in figures:
                    notes[name] = f"{note} ({figures.get('events', 0):,} events)"
                this_run[name] = (rate, cpu_rate)
            per_run.append(this_run)
    finally:
        server.kill()
        server.wait()

    result: dict[str, object] = {"events": args.events, "stream_bytes": int(size),
                                 "runs": args.runs}
    rows = []
    for name, (_, _, suffix) in chosen.items():
        w, c = median(wall[name]), median(cpu[name])
        result[_key("events_per_s", suffix)] = round(w) if w else None
        result[_key("events_per_s_cpu", suffix)] = round(c) if c else None
        result[_key("events_per_s_spread", suffix)] = [round(min(wall[name])),
                                                       round(max(wall[name]))] if w else None
        result[_key("events_per_s_cpu_spread", suffix)] = [round(min(cpu[name])),
                                                           round(max(cpu[name]))] if c else None
        rows.append([name, f"{len(wall[name])}/{args.runs}",
                     f"{w:,.0f}" if w else "-", spread(wall[name]),
                     f"{c:,.0f}" if c else "-", spread(cpu[name]), notes.get(name, "")])

    ours_name = "hotline.ami (ours)"
    ratio_rows = []
    for name, (_, _, suffix) in chosen.items():
        if name == ours_name or ours_name not in chosen:
            continue
        ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
        for run in per_run:
            (ow, oc), (tw, tc) = run.get(ours_name, (None, None)), run.get(name, (None, None))
            if ow and tw:
                ratios["wall"].append(ow / tw)
            if oc and tc:
                ratios["cpu"].append(oc / tc)
        label = "fraction_of_raw_ceiling" if suffix == "raw_ceiling" else f"ratio_vs_{suffix}"
        cpu_label = ("fraction_of_raw_ceiling_cpu" if suffix == "raw_ceiling"
                     else f"ratio_cpu_vs_{suffix}")
        for kind, key in (("wall", label), ("cpu", cpu_label)):
            m = median(ratios[kind])
            result[key] = round(m, 2) if m else None
            result[f"{key}_spread"] = ([round(min(ratios[kind]), 2), round(max(ratios[kind]), 2)]
                                       if m else None)
        ratio_rows.append([f"ours / {name}", spread(ratios["wall"], ".2f"),
                           str(result[label]), spread(ratios["cpu"], ".2f"),
                           str(result[cpu_label]), f">= {GOAL_RATIOS[suffix]:g}"
                           if suffix in GOAL_RATIOS else ""])

    ours_wall, ours_cpu = result.get("events_per_s"), result.get("events_per_s_cpu")
    goals: dict[str, bool | None] = {
        "events_per_s_wall": None if ours_wall is None else ours_wall >= GOAL_EVENTS_PER_S,
        "events_per_s_cpu": None if ours_cpu is None else ours_cpu >= GOAL_EVENTS_PER_S,
    }
    for suffix, goal in GOAL_RATIOS.items():
        for key in (f"ratio_vs_{suffix}", f"ratio_cpu_vs_{suffix}"):
            value = result.get(key)
            goals[key] = None if value is None else value >= goal  # type: ignore[operator]
    result["goals_met"] = goals
    result["goal_events_per_s"] = GOAL_EVENTS_PER_S
    #: Which framing "ours" ran: "compiled" (hotline/ami/_speedups.c) or "python" (its twins).
    result["ours_reader"] = "/".join(sorted(readers_seen)) or None
    result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["notes"] = notes

    print(f"AMI event stream: {args.events:,} events, {int(size) / 1e6:.1f} MB, one connection "
          f"each, {args.runs} runs; load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    print("wall = events / elapsed seconds; cpu = events / CPU seconds of the reader's process "
          "(steadier when the machine is shared); medians, spread = min-max over runs")
    print_table(["reader", "runs ok", "wall ev/s", "wall spread", "cpu ev/s", "cpu spread",
                 "note"], rows)
    print()
    print_table(["ratio (per run)", "wall spread", "wall median", "cpu spread", "cpu median",
                 "goal"], ratio_rows)
    print(f"goal >= {GOAL_EVENTS_PER_S:,} events/s: wall {goals['events_per_s_wall']}, "
          f"cpu {goals['events_per_s_cpu']}")
    print_json_line(result)


if __name__ == "__main__":
    main()
