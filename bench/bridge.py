"""bridge() → the department's phone ringing: our BridgeService against a plain AMI Originate.

One fresh PBX sandbox (its own ports and run directory) with the controller and the bridge
service attached; a simulated citizen talks with a simulated agent, and the same call is
bridged RUNS times to a municipal number that rings without answering. Each run times, on the
reactor clock, from the call of ``bridge()`` to the ``Newstate Ringing`` of the department's
leg, then releases the leg. The reference peer, interleaved run by run, is what any AMI client
would do without our service: one ``Originate`` into the same room context, timed to the same
event. Ours additionally finds the call in the live view, moves citizen and agent into a new
room (``Redirect`` with ``ExtraChannel``) and sets a channel variable before it dials; the
ratio shows that overhead. Run as root: ``python -m bench.bridge [--runs 100]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, task, threads

from bench._util import print_json_line, print_table

#: Ports: the defaults + 2400, away from `make run`, the test suite and bench.burst.
PORT_SHIFT = 2400
NUMBER = "99909990"  # rings, never answers (city simulator mode "noanswer")
AGENT, CITIZEN = "1001", "13800002400"


def _config(state_dir: Path):
    from hotline import config as config_mod

    s = PORT_SHIFT
    return config_mod.loads("", source="bench").with_overrides({
        "site": {"state_dir": str(state_dir)},
        "pbx": {"sip_port": 15060 + s, "ami_port": 15038 + s, "http_port": 15088 + s,
                "rtp_start": 41000, "rtp_end": 42499},
        "city": {"sip_port": 15070 + s, "phones_port": 15080 + s, "ami_port": 15039 + s,
                 "rtp_start": 42500, "rtp_end": 43999},
        "agi": {"port": 14573 + s},
        "web": {"port": 0},
        "scheduler": {"enabled": False},
        "bridge": {"auto_fallback": False, "ring_timeout_s": 30.0},
    })


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def _until(reactor, condition, timeout: float = 60.0, step: float = 0.1):
    deadline = reactor.seconds() + timeout
    while True:
        value = condition()
        if value:
            return value
        if reactor.seconds() > deadline:
            raise TimeoutError("condition not met")
        await task.deferLater(reactor, step, lambda: None)


async def _bench(reactor, runs: int) -> None:
    from hotline.ami.client import AMIClient
    from hotline.bridge.service import Target
    from hotline.controller import Controller
    from hotline.pbx import rootfs
    from hotline.pbx.sandbox import Sandbox
    from hotline.sim.city import CitySimulator

    state = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    cfg = _config(state)
    await threads.deferToThread(rootfs.build_root, cfg.pbx_root, suite=cfg["pbx"]["suite"],
                                mirror=cfg["pbx"]["mirror"])
    sandbox = Sandbox(cfg)
    await threads.deferToThread(sandbox.start, log=lambda *_: None)
    controller = None
    city_ami = None
    try:
        await task.deferLater(reactor, 3.0, lambda: None)  # agent phones register
        creds = sandbox.secrets()["city_ami"]
        city_ami = AMIClient(username=creds["username"], secret=creds["secret"],
                             host="127.0.0.1", port=cfg["city"]["ami_port"], reactor=reactor)
        city_ami.start()
        await city_ami.when_ready()
        city = CitySimulator(ami=city_ami, hotline_number=cfg["site"]["hotline_number"])
        controller = Controller(config=cfg, reactor=reactor)
        service = controller.bridge
        await controller.start()
        await city.set_number(NUMBER, mode="noanswer")
        await city.set_agent(AGENT, delay_s=0.2, tone="1000")
        await controller.agents.login(AGENT)
        await city.call(CITIZEN, tone="400", hold_s=3600)
        live = await _until(reactor, lambda: [
            c for c in controller.tracker.calls.values()
            if c.caller == CITIZEN and c.state == "talking" and c.hotline_call_id])
        call_id = int(live[0].hotline_call_id)
        ami = controller.ami
        target = Target(id=None, name="bench", number=NUMBER)
        ringing: dict[str, defer.Deferred] = {}

        def newstate(m):
            d = ringing.get(m.get("Uniqueid") or "")
            if d is not None and m.get("ChannelState") == "5" and not d.called:
                d.callback(reactor.seconds())
        sub = ami.subscribe("Newstate", newstate)
        ours: list[float] = []
        reference: list[float] = []
        for i in range(runs):
            # Ours: the whole bridge() from the live call to the department ringing.
            t0 = reactor.seconds()
            attempt = await service.bridge(call_id, target)
            rang = await attempt.leg.ringing
            ours.append((rang - t0) * 1000)
            await ami.action("Hangup", Channel=attempt.leg.uniqueid, Cause="16")
            await attempt.leg.done
            room = attempt.room.name
            service._forget(attempt.room)  # the next run bridges the same call anew
            # Reference: a plain Originate into the same room context, same number.
            uid = f"bench-ref-{i}"
            ringing[uid] = d = defer.Deferred()
            t0 = reactor.seconds()
            await ami.action("Originate", Channel=f"PJSIP/{NUMBER}@city",
                             Context="hotline-bridge-department", Exten=room, Priority="1",
                             Timeout="30000", Async="true", ChannelId=uid)
            rang = await d
            reference.append((rang - t0) * 1000)
            del ringing[uid]
            await ami.action("Hangup", Channel=uid, Cause="16")
            await task.deferLater(reactor, 0.05, lambda: None)
        sub.unsubscribe()
        await controller.agents.logout(AGENT)
        await city.hangup_citizen(CITIZEN)
    finally:
        if controller is not None:
            await controller.stop()
        if city_ami is not None:
            await city_ami.stop()
        await threads.deferToThread(sandbox.stop, log=lambda *_: None)

    rows = []
    figures: dict[str, float] = {"runs": runs}
    for name, values in (("bridge() [ours]", ours), ("AMI Originate [reference]", reference)):
        p50, p99 = statistics.median(values), _pct(values, 99)
        rows.append([name, f"{p50:.1f}", f"{p99:.1f}", f"{min(values):.1f}",
                     f"{max(values):.1f}"])
    print(f"bridge → department ringing, {runs} runs each, interleaved (ms)")
    print_table(["what", "p50", "p99", "min", "max"], rows)
    figures.update({
        "bridge_to_ringing_p50_ms": round(statistics.median(ours), 2),
        "bridge_to_ringing_p99_ms": round(_pct(ours, 99), 2),
        "reference_originate_to_ringing_p50_ms": round(statistics.median(reference), 2),
        "reference_originate_to_ringing_p99_ms": round(_pct(reference, 99), 2),
    })
    figures["ratio_p50_ours_over_reference"] = round(
        figures["bridge_to_ringing_p50_ms"] / figures["reference_originate_to_ringing_p50_ms"], 3)
    figures["ratio_p99_ours_over_reference"] = round(
        figures["bridge_to_ringing_p99_ms"] / figures["reference_originate_to_ringing_p99_ms"], 3)
    print_json_line(figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    task.react(lambda reactor: defer.ensureDeferred(_bench(reactor, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
