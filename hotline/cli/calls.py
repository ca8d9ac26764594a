# -*- test-case-name: tests.calls.test_cli -*-
"""``hotline calls [--watch]``: the live calls, every live leg (inbound, agent, callback, survey,
bridge department legs, with the room each is in) and the agents, as the PBX's AMI tells them."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from hotline.cli.reactor import connect_ami, react
from hotline.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calls", help="show the live calls, legs and agents (from the PBX's AMI)")
    p.add_argument("--watch", action="store_true",
                   help="keep printing changes until Ctrl-C")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the AMI login and resync (default 10)")
    p.set_defaults(func=_calls)


def _calls(args: argparse.Namespace, cfg: Config) -> int:
    return react(lambda reactor: _show(reactor, cfg, watch=args.watch, timeout=args.timeout))


async def _show(reactor: Any, cfg: Config, *, watch: bool, timeout: float) -> None:
    from hotline.calls.service import CallService
    from hotline.calls.tracker import CallTracker

    client = await connect_ami(reactor, cfg, timeout=timeout)
    tracker = CallTracker(ami=client, clock=reactor, queue_name=cfg["queue"]["name"])
    tracker.subscribe()
    service = CallService(tracker=tracker)
    try:
        await tracker.resync(client)
        now = reactor.seconds()
        print(render(service, now))
        if not watch:
            return
        print("-- watching; Ctrl-C stops", flush=True)
        tracker.notifier.add_listener(_printer(service, reactor.seconds, print))
        stopped: defer.Deferred[None] = defer.Deferred()
        await stopped  # until the reactor shuts down (Ctrl-C)
    finally:
        tracker.stop()
        await client.stop()


def _printer(service: Any, now: Callable[[], float],
             out: Callable[..., object]) -> Callable[[dict[str, Any]], None]:
    """A notifier listener printing one line per change (the whole view after a resync)."""
    def on_change(payload: dict[str, Any]) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        kind = payload["type"]
        if kind == "resynced":
            out(f"{stamp} resynced\n{render(service, now())}", flush=True)
        elif "call" in payload:
            out(f"{stamp} {describe_call(payload['call'], now())}"
                + (" (gone)" if kind == "call_removed" else ""), flush=True)
        else:
            a = payload["agent"]
            out(f"{stamp} agent {a['name'] or a['interface']} {_agent_state(a)}"
                + (" (gone)" if kind == "agent_removed" else ""), flush=True)
    return on_change


def describe_call(c: dict[str, Any], now: float) -> str:
    """One line about one call, for the watch output."""
    who = f" with {c['agent']['name'] or c['agent']['interface']}" if c["agent"] else ""
    pos = f" #{c['position']}" if c["position"] is not None else ""
    end = ""
    if c["state"] == "ended":
        end = f", cause {c['hangup_cause_txt'] or c['hangup_cause']}"
        if c["hung_up_by"]:
            end += f", hung up by {c['hung_up_by']}"
    return (f"call {c['uniqueid']} {c['caller'] or '?'} {c['state']}{pos}{who} "
            f"for {_age(now - c['since'])}{end}")


def render(service: Any, now: float) -> str:
    """The live view as a readable text table: calls, agents, then the wallboard line."""
    calls = service.live_calls()
    agents = service.agents()
    lines = [f"CALLS ({len(calls)})"]
    if calls:
        rows = [("STATE", "FOR", "CALLER", "QUEUE", "POS", "AGENT", "CALL ID", "REPEAT",
                 "OPEN", "HUNG UP", "UNIQUEID")]
        for c in calls:
            agent = c["agent"]["name"] or c["agent"]["interface"] if c["agent"] else ""
            hung = ""
            if c["state"] == "ended":
                hung = c["hung_up_by"] or (c["hangup_cause_txt"] or "?")
            rows.append((c["state"], _age(now - c["since"]), c["caller"] or "?",
                         c["queue"] or "", "" if c["position"] is None else str(c["position"]),
                         agent, c["hotline_call_id"] or "", "yes" if c["repeat_caller"] else "",
                         "" if c["open_tickets"] is None else str(c["open_tickets"]), hung,
                         c["uniqueid"]))
        lines.extend(_table(rows))
    else:
        lines.append("  (none)")
    lines.append(f"AGENTS ({len(agents)})")
    if agents:
        rows = [("STATE", "FOR", "NAME", "INTERFACE", "TAKEN")]
        for a in agents:
            rows.append((_agent_state(a), _age(now - a["since"]), a["name"] or "",
                         a["interface"], str(a["calls_taken"])))
        lines.extend(_table(rows))
    else:
        lines.append("  (none logged in)")
    legs = service.legs()
    lines.append(f"LEGS ({len(legs)})")
    if legs:
        rows = [("KIND", "STATE", "FOR", "CHANNEL", "CALLER", "ROOM", "UNIQUEID")]
        for leg in legs:
            rows.append((leg["kind"], leg["state"], _age(now - leg["started"]), leg["channel"],
                         leg["caller"] or "", leg["room"] or "", leg["uniqueid"]))
        lines.extend(_table(rows))
    else:
        lines.append("  (none)")
    b = service.wallboard()
    lines.append(
        f"waiting {b['calls_waiting']} (longest {b['longest_wait_s']:g} s), "
        f"talking {b['calls_talking']}; agents free {b['agents_free']}, "
        f"ringing {b['agents_ringing']}, talking {b['agents_talking']}, "
        f"paused {b['agents_paused']}; answered {b['answered']}, abandoned {b['abandoned']} "
        f"since start")
    return "\n".join(lines)


def _agent_state(a: dict[str, Any]) -> str:
    state = a["state"].replace("_", " ")
    return f"{state} ({a['paused_reason']})" if a["paused_reason"] else state


def _age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths,
                                                                            strict=True)).rstrip()
            for row in rows]


def _width(text: str) -> int:
    """Columns a string takes on a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
