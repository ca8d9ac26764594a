"""AMI benchmark: events/s parsed into messages by our client, three reference peers and a ceiling.

Run from the repository root as C{python -m bench.ami [--events N] [--limit SECONDS]}. A fake
Asterisk in another process sends the banner, accepts a login and streams N realistic events
(~10 lines each, UTF-8 caller names, repeated ChanVariable) as fast as it can; each reader runs
in its own process (the peers each in their own venv under bench/.venvs/) and reports how many
events reached its handler and how long that took. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench._util import BENCH_DIR, peer_python, print_json_line, print_table, run_peer

PEERS_DIR = BENCH_DIR / "peers"

#: name -> (pip requirements or None for our own interpreter, script, JSON key)
READERS: dict[str, tuple[list[str] | None, str, str]] = {
    "raw socket (ceiling)": (None, "ami_raw.py", "events_per_s_raw_ceiling"),
    "hotline.ami (ours)": (None, "ami_ours.py", "events_per_s"),
    "asterisk-ami": (["asterisk-ami==0.1.7"], "ami_asterisk_ami.py", "events_per_s_asterisk_ami"),
    "panoramisk": (["panoramisk==1.4"], "ami_panoramisk.py", "events_per_s_panoramisk"),
    "pyst2": (["pyst2==0.5.1"], "ami_pyst2.py", "events_per_s_pyst2"),
}


def main(argv: list[str] | None = None) -> None:
    """Start the fake Asterisk, run every reader against it once, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.ami")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a reader may take")
    parser.add_argument("--only", action="append", help="run only readers containing this")
    args = parser.parse_args(argv)

    server = subprocess.Popen(
        [sys.executable, str(PEERS_DIR / "ami_server.py"), str(args.events)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        port, size = server.stdout.readline().split()  # type: ignore[union-attr]
        rows, result = [], {"events": args.events, "stream_bytes": int(size)}
        for name, (requirements, script, key) in READERS.items():
            if args.only and not any(o in name for o in args.only):
                continue
            python, why = (sys.executable, "") if requirements is None else peer_python(
                script.removesuffix(".py").removeprefix("ami_").replace("_", "-"), requirements
            )
            if python is None:
                figures = {"error": why}
            else:
                figures = run_peer(python, PEERS_DIR / script,
                                   ["127.0.0.1", port, str(args.events), str(args.limit)],
                                   timeout=args.limit + 60)
            rate = None
            if "error" not in figures and figures.get("seconds", 0) > 0 and figures["events"]:
                rate = figures["events"] / figures["seconds"]
            result[key] = round(rate) if rate else None
            note = figures.get("error") or figures.get("note") or ""
            rows.append([name, f"{figures.get('events', 0):,}",
                         f"{figures['seconds']:.2f}" if "seconds" in figures else "-",
                         f"{rate:,.0f}" if rate else "-", note])
    finally:
        server.kill()
        server.wait()

    ours = result.get("events_per_s")
    for peer in ("asterisk_ami", "panoramisk", "pyst2", "raw_ceiling"):
        theirs = result.get(f"events_per_s_{peer}")
        label = "fraction_of_raw_ceiling" if peer == "raw_ceiling" else f"ratio_vs_{peer}"
        result[label] = round(ours / theirs, 2) if ours and theirs else None
    print(f"AMI event stream: {args.events:,} events, {int(size) / 1e6:.1f} MB, one connection each")
    print_table(["reader", "events", "seconds", "events/s", "note"], rows)
    print(f"ours vs asterisk-ami x{result['ratio_vs_asterisk_ami']}, "
          f"vs panoramisk x{result['ratio_vs_panoramisk']}, "
          f"{result['fraction_of_raw_ceiling']} of the raw ceiling "
          "(goal: >= 250,000/s, >= 3x asterisk-ami, >= 5x panoramisk)")
    print_json_line(result)


if __name__ == "__main__":
    main()
