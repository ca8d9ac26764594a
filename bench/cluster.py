"""The same call burst against one hotline node and against two behind Kamailio.

    python -m bench.cluster [--calls 40] [--rate 10] [--hold 4] [--seats 4]

- one node: the ordinary sandbox (the city's trunk straight to the PBX), ``--seats`` simulated
  agents, its controller in this process;
- two nodes: ``hotline pbx start --nodes 2`` (Kamailio's dispatcher, two PBXs on their own
  loopback addresses, one PostgreSQL), ``--seats`` agents on each PBX, node 1's controller in
  this process and node 2's a ``hotline --node 2 run`` process.

Both runs get the same burst (``--calls`` citizens at ``--rate`` a second, who wait as long as
it takes; each call is ended ``--hold`` s after an agent answered it) and record every call in
the database. Capacity is calls answered per second from the first call's start to the last
call's end (the time to serve the whole burst); ``scaling_efficiency`` = two-node capacity ÷
(2 × one-node capacity), on one 2-core machine where both nodes share the cores. (Counting only
to the last answer, as this bench first did, leaves out the last round of talks, a larger share
of the shorter two-node run: it read 1.11, above what twice the seats can give.) Controller CPU is user+system time of every controller process. Each run also counts the
calls one PBX held and a seat of the other answered (the overflow, both directions) and the
wrap-ups recorded (one per answered call when every seat, overflowed or not, gets its
after-call work) and the calls a seat answered while its wrap-up should still have held it. Ports are the defaults
shifted by HOTLINE_TEST_PORT_SHIFT + 600, so the run keeps away from the test suite's. The last
line is JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, task, threads

from bench._util import print_json_line, print_table, remove_sandbox_state
from bench.burst import Sampler, _cpu_rss

_SHIFT = int(os.environ.get("HOTLINE_TEST_PORT_SHIFT", "0")) + 600


def _config(state_dir: Path, *, nodes: int, seats: int, wrapup: float | None = None):
    from hotline import config as config_mod

    s = _SHIFT
    agents = [str(1001 + i) for i in range(seats * nodes)]
    return config_mod.loads("", source="bench").with_overrides({
        "site": {"state_dir": str(state_dir)},
        "pbx": {"sip_port": 15060 + s, "ami_port": 15038 + s, "http_port": 15088 + s,
                "rtp_start": 58000 + s, "rtp_end": 61999 + s, "short_prompts": True},
        "city": {"sip_port": 15070 + s, "phones_port": 15080 + s, "ami_port": 15039 + s,
                 "rtp_start": 62000 + s, "rtp_end": 63999 + s},
        "agi": {"port": 14573 + s},
        "web": {"port": 0},
        "queue": {"agents": agents,
                  **({} if wrapup is None else {"wrapup_s": wrapup})},
        "scheduler": {"enabled": False},
        "cluster": {"nodes": nodes, "edge_port": 15050 + s,
                    "seats": [1 + i // seats for i in range(len(agents))] if nodes > 1 else []},
    })


def _write_config(cfg, path: Path) -> Path:
    from hotline.cli.config import _toml_value

    lines = []
    for section in ("site", "pbx", "city", "agi", "web", "queue", "scheduler", "cluster"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in cfg[section].items()
                  if not isinstance(v, dict)]
    path.write_text("\n".join(lines) + "\n")
    return path


async def _city(reactor, cfg):
    from hotline.ami.client import AMIClient
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.city import CitySimulator

    creds = Sandbox(cfg).secrets()["city_ami"]
    ami = AMIClient(username=creds["username"], secret=creds["secret"], host="127.0.0.1",
                    port=cfg["city"]["ami_port"], reactor=reactor, events="off")
    ami.start()
    await ami.when_ready()
    return ami, CitySimulator(ami=ami, hotline_number=cfg["site"]["hotline_number"])


async def _run(reactor, state: Path, *, nodes: int, args) -> dict:
    from sqlalchemy import func, select

    from db.models import AgentStateChange, Call
    from hotline.controller import Controller
    from hotline.pbx.link import node_view
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.burst import burst_numbers, place_burst

    cfg = _config(state, nodes=nodes, seats=args.seats, wrapup=args.wrapup)
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda line: print(line, file=sys.stderr))
    other = None
    try:
        cfg = node_view(cfg, 1)
        if nodes > 1:
            path = _write_config(cfg, state / "site.toml")
            log = open(state / "controller-2.log", "ab")  # noqa: SIM115 - closed below
            other = subprocess.Popen(
                [sys.executable, "-m", "hotline", "--config", str(path), "--node", "2", "run"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        controller = Controller(config=cfg, reactor=reactor)
        await controller.start()
        ami, city = await _city(reactor, cfg)
        for code in cfg["queue"]["agents"]:
            await city.set_agent(code, delay_s=0.5, tone="1000")
        for code in controller.agents.agents:
            await controller.agents.login(code)
        if other is not None:
            while "controller up" not in (state / "controller-2.log").read_text(errors="replace"):
                if other.poll() is not None:
                    raise RuntimeError("node 2's controller exited; see controller-2.log")
                await task.deferLater(reactor, 0.2, lambda: None)
            # node 2's seats, logged in the way an operator would
            for code in cfg["queue"]["agents"][args.seats:]:
                await threads.deferToThread(subprocess.run, [
                    sys.executable, "-m", "hotline", "--config", str(path), "--node", "2",
                    "agent", "login", code], check=True, capture_output=True)
        while sum(a["state"] == "free" for a in controller.calls.agents()) < args.seats * nodes:
            await task.deferLater(reactor, 0.2, lambda: None)
        numbers = burst_numbers(args.calls, prefix=f"139{nodes}")
        me = Sampler(reactor, os.getpid(), tree=False)
        other_cpu0 = _cpu_rss([other.pid])[0] if other else 0.0
        # Citizens wait as long as it takes; each call ends --hold s after an agent answered
        # (the merged view tells when, on either PBX).
        placed: dict[str, str] = {}
        hung: set[str] = set()

        def end_talks() -> None:
            now = reactor.seconds()
            for call in controller.calls.live_calls():
                channel = placed.get(call["caller"] or "")
                if call["state"] == "talking" and channel and channel not in hung \
                        and now - call["since"] >= args.hold:
                    hung.add(channel)
                    defer.Deferred.fromCoroutine(city.hangup(channel)).addErrback(
                        lambda _: None)

        ender = task.LoopingCall(end_talks)
        ender.clock = reactor
        ender.start(0.2)
        await place_burst(city, reactor, numbers, per_second=args.rate, hold_s=600,
                          tone="400", on_placed=lambda c: placed.__setitem__(c.caller,
                                                                             c.channel_id))
        def rows(s):
            return [(r.started_at, r.answered_at, r.queue_wait_s, r.ended_at, r.uniqueid,
                     r.agent.code if r.agent is not None else None) for r in s.scalars(
                select(Call).where(Call.caller_number.in_(numbers), Call.ended_at.is_not(None)))]
        deadline = reactor.seconds() + 300
        while len(found := await controller.db.run(rows)) < len(numbers) \
                and reactor.seconds() < deadline:
            await task.deferLater(reactor, 0.5, lambda: None)
        ender.stop()
        me.stop()
        other_cpu = (_cpu_rss([other.pid])[0] - other_cpu0) if other else 0.0
        answered = [r for r in found if r[1] is not None]
        overflowed = _overflowed(cfg, answered)
        early, early_after_overflow = _early(cfg, answered)
        if found:
            # Wrap-ups must have ended for the count to be whole (a seat's last one runs on).
            await task.deferLater(reactor, float(cfg["queue"]["wrapup_s"]) + 1.0, lambda: None)
        since = min((r[0] for r in found), default=None)
        wrapups = await controller.db.run(
            lambda s: s.scalar(select(func.count()).select_from(AgentStateChange).where(
                AgentStateChange.state == "wrapup", AgentStateChange.at >= since)) or 0) \
            if since is not None else 0
        waits = sorted(r[2] or 0.0 for r in answered)
        span = (max(r[3] for r in found) - min(r[0] for r in found)).total_seconds() \
            if answered else 0.0
        await ami.stop()
        await controller.stop()
        return {"nodes": nodes, "rows": len(found), "answered": len(answered),
                "capacity_per_s": len(answered) / span if span else 0.0, "span_s": span,
                "wait_p95_s": waits[max(0, int(round(0.95 * len(waits))) - 1)] if waits else None,
                "controller_cpu_s": me.cpu + other_cpu,
                "overflowed": overflowed, "wrapups": wrapups, "early_answers": early,
                "early_after_overflow": early_after_overflow}
    finally:
        if other is not None and other.poll() is None:
            other.terminate()
            try:
                other.wait(15)
            except subprocess.TimeoutExpired:
                other.kill()
        await threads.deferToThread(sandbox.stop, log=lambda line: None)
        from hotline.pbx.database import SharedDatabase

        SharedDatabase(sandbox.run_dir).remove()
        remove_sandbox_state(sandbox, state)


def _crossing(cfg, row) -> str | None:
    """``"1->2"`` for an answered call PBX 1 held and a seat of node 2 took (the overflow),
    from the uniqueid's system name and the seat's node; None for a PBX's own seat."""
    from hotline.pbx.topology import instance_name, node_of_seat

    uniqueid, code = row[4], row[5]
    held = next((n for n in range(1, cfg["cluster"]["nodes"] + 1)
                 if uniqueid.startswith(f"{instance_name(n)}-")), None)
    if held is None or code is None or code not in cfg["queue"]["agents"]:
        return None
    seat = node_of_seat(cfg, code)
    return f"{held}->{seat}" if seat != held else None


def _overflowed(cfg, answered) -> dict[str, int]:
    """How many answered calls crossed from one PBX to another's seat, by direction."""
    out: dict[str, int] = {}
    for row in answered:
        if (way := _crossing(cfg, row)) is not None:
            out[way] = out.get(way, 0) + 1
    return out


def _early(cfg, answered) -> tuple[int, int]:
    """Calls a seat answered before its wrap-up after its previous call could be over (less
    than 90 % of ``queue.wrapup_s`` after that call's end): after-call work that did not hold;
    and how many of those followed an overflowed call."""
    wrapup_s = float(cfg["queue"]["wrapup_s"])
    if wrapup_s <= 0:
        return 0, 0
    by_seat: dict[str, list] = {}
    for row in answered:
        if row[5] is not None:
            by_seat.setdefault(row[5], []).append(row)
    early = after_overflow = 0
    for rows in by_seat.values():
        rows.sort(key=lambda r: r[1])
        for a, b in zip(rows, rows[1:], strict=False):
            if (b[1] - a[3]).total_seconds() < 0.9 * wrapup_s:
                early += 1
                after_overflow += _crossing(cfg, a) is not None
    return early, after_overflow


async def main(reactor, args) -> None:
    one = await _run(reactor, Path(tempfile.mkdtemp(prefix="hotline-bench-cluster1-")),
                     nodes=1, args=args)
    two = await _run(reactor, Path(tempfile.mkdtemp(prefix="hotline-bench-cluster2-")),
                     nodes=2, args=args)
    n = args.calls
    print(f"{n} calls at {args.rate:g}/s, hang up {args.hold:g} s after the answer, "
          f"{args.seats} simulated agents per PBX; capacity = answered ÷ (first start → last "
          "call's end)")
    print_table(
        ["run", "answered", "capacity calls/s", "wait p95 s", "controller CPU ms/call",
         "overflowed (PBX->seat's node)", "wrap-ups", "answered in wrap-up (after overflow)"],
        [[f"{r['nodes']} node(s)", f"{r['answered']}/{n}", f"{r['capacity_per_s']:.2f}",
          f"{r['wait_p95_s']:.1f}" if r["wait_p95_s"] is not None else "-",
          f"{1000 * r['controller_cpu_s'] / n:.1f}",
          ", ".join(f"{k}: {v}" for k, v in sorted(r["overflowed"].items())) or "-",
          str(r["wrapups"]), f"{r['early_answers']} ({r['early_after_overflow']})"]
         for r in (one, two)])
    efficiency = two["capacity_per_s"] / (2 * one["capacity_per_s"]) \
        if one["capacity_per_s"] else None
    print_json_line({
        "calls": n, "rate_per_s": args.rate, "hold_s": args.hold, "seats_per_pbx": args.seats,
        "wrapup_s": args.wrapup,
        "one_node": {k: round(v, 3) if isinstance(v, float) else v for k, v in one.items()},
        "two_nodes": {k: round(v, 3) if isinstance(v, float) else v for k, v in two.items()},
        "scaling_efficiency": round(efficiency, 3) if efficiency is not None else None,
    })


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--hold", type=float, default=4.0)
    p.add_argument("--seats", type=int, default=4)
    p.add_argument("--wrapup", type=float, default=None,
                   help="after-call work in seconds (queue.wrapup_s; default: the site's)")
    args = p.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, args)))


if __name__ == "__main__":
    cli()
