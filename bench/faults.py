"""Faults against the whole hotline while citizens call: what each costs in calls.

    python -m bench.faults [--calls 8] [--db-down 30] [--ami-cut 10]

One fresh PBX sandbox (its own ports and run directory) and, for the database fault, a
PostgreSQL cluster of its own. Each row places the same burst of calls from distinct numbers
at the city side and plays one fault in the middle of it (``hotline.sim.faults``):

- reference: the same burst with no fault (what every row should look like);
- controller killed: ``hotline run`` SIGKILLed mid-burst, then started again;
- PBX restarted: the hotline's Asterisk stopped at once with calls up, and started again;
- database down: PostgreSQL stopped (immediate) for --db-down seconds, then started;
- recordings disk full: a full tmpfs mounted where the PBX writes recordings;
- AMI link cut: the TCP link between controller and AMI dropped for --ami-cut seconds.

Figures: calls placed, final call rows, lost (a placed call without a row), duplicated (more
than one row for one call), callbacks placed twice (the scheduler is off in these runs, so
none is placed at all: the column is 0 by construction and says so). The last line is JSON
with ``lost_total`` and ``duplicated_total``.
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
        "scheduler": {"enabled": False},
        "queue": {"max_length": 3, "max_wait_s": 6, "overflow": "callback"}})


async def _reference(lab: FaultLab) -> FaultResult:
    started = lab.reactor.seconds()
    numbers = lab.numbers()
    async with lab.controller() as ctl, lab.city() as city:
        await (await lab.burst(city, numbers))
        counted = await lab.settle(lab._count_with(ctl.db, numbers), numbers)
    return lab._result("reference: no fault", numbers, counted, started)


async def main(reactor, args: argparse.Namespace) -> None:
    from hotline.pbx.sandbox import Sandbox

    state_dir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    cfg = _config(state_dir, args.port_shift)
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda line: None)
    results: list[FaultResult] = []
    lab = FaultLab(config=cfg, reactor=reactor, state_dir=state_dir, calls=args.calls,
                   hold_s=8.0, settle_s=60.0)
    try:
        results.append(await _reference(lab))
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
    print(f"{args.calls} calls per row from distinct numbers, 4 per second, each citizen hangs "
          "up after 8 s (queue: at most 3 waiting, 6 s longest wait, then a callback promise)")
    print_table(["fault", "placed", "call rows", "lost", "duplicated", "callbacks twice",
                 "wall s", "note"],
                [[r.fault, r.placed, r.rows, r.lost, r.duplicated, r.callbacks_twice,
                  f"{r.seconds:.1f}", r.note] for r in results])
    faults = [r for r in results if not r.fault.startswith("reference")]
    print_json_line({
        "calls_per_fault": args.calls,
        "faults": {r.fault: {"placed": r.placed, "rows": r.rows, "lost": r.lost,
                             "duplicated": r.duplicated, "callbacks_twice": r.callbacks_twice,
                             "seconds": r.seconds} for r in results},
        "lost_total": sum(r.lost for r in faults),
        "duplicated_total": sum(r.duplicated for r in faults),
        "callbacks_twice_total": sum(r.callbacks_twice for r in faults),
        "callbacks_exercised": False,
    })


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--port-shift", type=int, default=PORT_SHIFT,
                   help="added to every default port (keep apart from other runs)")
    p.add_argument("--db-down", type=float, default=30.0)
    p.add_argument("--ami-cut", type=float, default=10.0,
                   help="cut the AMI link this long (0: skip that fault)")
    args = p.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, args)))


if __name__ == "__main__":
    cli()
