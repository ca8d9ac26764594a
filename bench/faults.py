"""Faults against the whole hotline while citizens call: what each costs in calls.

    python -m bench.faults [--calls 8] [--callbacks 2,1] [--db-down 30] [--ami-cut 10]

One fresh PBX sandbox (its own ports and run directory) and, for the database fault, a
PostgreSQL cluster of its own. Each row places the same burst of calls from distinct numbers
at the city side and plays one fault in the middle of it (``hotline.sim.faults``):

- reference: the same burst with no fault (what every row should look like);
- controller killed: ``hotline run`` SIGKILLed mid-burst, then started again;
- PBX restarted: the hotline's Asterisk stopped at once with calls up, and started again;
- database down: PostgreSQL stopped (immediate) for --db-down seconds, then started;
- recordings disk full: a full tmpfs mounted where the PBX writes recordings;
- AMI link cut: the TCP link between controller and AMI dropped for --ami-cut seconds.

Around every row's burst the scheduler places callbacks (``--callbacks UP,DUE``): UP promised
before the burst and talking to their citizens when the fault strikes, DUE falling due as it
strikes (``hotline.sim.callbacks``). Every queue agent is logged in, so the agents take the
burst's calls too.

Figures: calls placed, final call rows, lost (a placed call without a row), duplicated (more
than one row for one call); callbacks promised, placed twice (reached twice, or the city rang
the citizen more often than the database has attempts), lost (neither reached nor failed once
everything settled), reached, attempts in the database, citizen calls the city received and
those of them long enough to be a conversation (placed twice counts a citizen who talked twice
too).
The last line is JSON with ``lost_total``, ``duplicated_total``, ``callbacks_placed_twice``
and ``callbacks_lost`` (totals over the faults).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from twisted.internet import defer, task, threads

from bench._util import print_json_line, print_table
from bench.report import start_postgres
from hotline import config as config_mod
from hotline.sim.faults import FaultLab, FaultResult

#: The bench sandbox's ports: the defaults + this, away from `make run`, the tests, bench.burst.
PORT_SHIFT = 2600


def _config(state_dir: Path, shift: int = PORT_SHIFT) -> config_mod.Config:
    base = config_mod.loads("", source="bench.faults")
    shifted = {section: {k: v + shift for k, v in base[section].items()
                         if k.endswith("port") or k.startswith("rtp_")}
               for section in ("pbx", "city", "agi")}
    return base.with_overrides({
        **shifted, "site": {"state_dir": str(state_dir)}, "web": {"port": 0},
        "queue": {"max_length": 3, "max_wait_s": 6, "overflow": "callback", "wrapup_s": 0.0}})


async def main(reactor, args: argparse.Namespace) -> None:
    from hotline.pbx.sandbox import Sandbox

    state_dir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    cfg = _config(state_dir, args.port_shift)
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda line: None)
    results: list[FaultResult] = []
    lab = FaultLab(config=cfg, reactor=reactor, state_dir=state_dir, calls=args.calls,
                   hold_s=8.0, settle_s=60.0, callbacks=args.callbacks)
    try:
        results.append(await lab.no_fault())
        results.append(await lab.controller_killed())
        results.append(await lab.pbx_restarted())
        server, base = await threads.deferToThread(start_postgres)
        try:
            results.append(await lab.database_down(server, server.url("hotline_bench"),
                                                   args.db_down))
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
        results.append(await lab.recordings_disk_full())
        if args.ami_cut > 0:
            results.append(await lab.ami_link_cut(args.ami_cut))
    finally:
        await threads.deferToThread(sandbox.stop, log=lambda line: None)
    up, due = args.callbacks
    print(f"{args.calls} calls per row from distinct numbers, 4 per second, each citizen hangs "
          "up after 8 s (queue: at most 3 waiting, 6 s longest wait, then a callback promise); "
          f"callbacks per row: {up} talking when the fault strikes + {due} falling due as it "
          f"strikes; {len(cfg['queue']['agents'])} agents logged in")
    print_table(["fault", "placed", "call rows", "lost", "duplicated", "callbacks",
                 "cb placed twice", "cb lost", "cb reached", "cb attempts", "citizen rings",
                 "citizen talks", "wall s", "note"],
                [[r.fault, r.placed, r.rows, r.lost, r.duplicated, *_callback_cells(r),
                  f"{r.seconds:.1f}", r.note] for r in results])
    faults = [r for r in results if not r.fault.startswith("reference")]
    print_json_line({
        "calls_per_fault": args.calls,
        "callbacks_per_fault": {"up_when_struck": up, "due_as_struck": due},
        "faults": {r.fault: {"placed": r.placed, "rows": r.rows, "lost": r.lost,
                             "duplicated": r.duplicated, "seconds": r.seconds,
                             "callbacks": r.callbacks.as_dict() if r.callbacks else None}
                   for r in results},
        "lost_total": sum(r.lost for r in faults),
        "duplicated_total": sum(r.duplicated for r in faults),
        "callbacks_placed_twice": sum(r.callbacks_twice for r in faults),
        "callbacks_lost": sum(r.callbacks_lost for r in faults),
        # Exercised: every row's callbacks were really placed (the city rang their citizens).
        "callbacks_exercised": all(r.callbacks is not None and r.callbacks.citizen_rings > 0
                                   for r in results),
    })


def _callback_cells(r: FaultResult) -> list[object]:
    c = r.callbacks
    if c is None:
        return ["-"] * 7
    return [c.promised, c.placed_twice, c.lost, c.reached, c.attempts, c.citizen_rings,
            c.citizen_talks]


def _pair(text: str) -> tuple[int, int]:
    up, _, due = text.partition(",")
    try:
        pair = (int(up), int(due or 0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected UP,DUE (two counts), not {text!r}") from None
    if min(pair) < 0:
        raise argparse.ArgumentTypeError("counts cannot be negative")
    return pair


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--callbacks", type=_pair, default=(2, 1), metavar="UP,DUE",
                   help="callbacks per row: talking when the fault strikes, falling due as it "
                        "strikes (0,0: scheduler off)")
    p.add_argument("--port-shift", type=int, default=PORT_SHIFT,
                   help="added to every default port (keep apart from other runs)")
    p.add_argument("--db-down", type=float, default=30.0)
    p.add_argument("--ami-cut", type=float, default=10.0,
                   help="cut the AMI link this long (0: skip that fault)")
    args = p.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, args)))


if __name__ == "__main__":
    cli()
