"""``hotline pbx build|start|stop|status``: the local PBX sandbox."""

from __future__ import annotations

import argparse
import time

from hotline.cli.main import CommandError
from hotline.config import Config, ConfigError
from hotline.pbx import rootfs
from hotline.pbx.sandbox import Sandbox, SandboxError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pbx", help="the PBX sandbox: hotline PBX + city simulator")
    psub = p.add_subparsers(dest="pbx_command", metavar="ACTION")
    psub.required = True
    b = psub.add_parser("build", help="build the cached Debian sid root with Asterisk 22")
    b.add_argument("--mirror", help="Debian mirror (default: pbx.mirror, else the host's)")
    b.set_defaults(func=_build)
    s = psub.add_parser("start", help="start both instances and wait until they are booted")
    s.add_argument("--nodes", type=int, metavar="N",
                   help="N hotline PBXs behind Kamailio (each on its own loopback address), "
                        "the city simulator and one PostgreSQL for the N controllers "
                        "(default cluster.nodes)")
    s.set_defaults(func=_start)
    psub.add_parser("stop", help="stop both instances and unmount").set_defaults(func=_stop)
    psub.add_parser("status", help="tell what runs").set_defaults(func=_status)


def _build(args: argparse.Namespace, cfg: Config) -> int:
    started = time.monotonic()
    try:
        info, built = rootfs.build_root(cfg.pbx_root, suite=cfg["pbx"]["suite"],
                                        mirror=args.mirror or cfg["pbx"]["mirror"])
    except rootfs.RootBuildError as e:
        raise CommandError(str(e)) from None
    verb = f"built in {time.monotonic() - started:.1f} s" if built else "cached, reused"
    print(f"PBX root {info.path}: {info.asterisk_version} ({verb})")
    return 0


def _start(args: argparse.Namespace, cfg: Config) -> int:
    try:
        if args.nodes:
            cfg = cfg.with_overrides({"cluster": {"nodes": args.nodes}})
        sandbox = Sandbox(cfg)
        sandbox.start()
    except (SandboxError, ConfigError) as e:
        raise CommandError(str(e)) from None
    _print_status(sandbox)
    instances = ",".join(sandbox.instances())
    print(f"logs: {sandbox.var_dir}/{{{instances}}}/log   recordings: "
          f"{sandbox.var_dir}/pbx/recordings")
    if sandbox.clustered:
        print(f"edge: Kamailio's log {sandbox.edge.log_file}; shared database "
              f"{sandbox.database_url()}")
        print("controllers: " + "   ".join(f"hotline --node {n.number} run"
                                           for n in sandbox.nodes))
    return 0


def _stop(_args: argparse.Namespace, cfg: Config) -> int:
    sandbox = Sandbox(cfg)
    try:
        sandbox.stop()
    except SandboxError as e:
        raise CommandError(str(e)) from None
    print("PBX sandbox stopped")
    return 0


def _status(_args: argparse.Namespace, cfg: Config) -> int:
    sandbox = Sandbox(cfg)
    _print_status(sandbox)
    return 0 if all(s.running for s in sandbox.status().values()) else 3


def _print_status(sandbox: Sandbox) -> None:
    names = {n.instance: f"hotline PBX {n.number}" if sandbox.clustered else "hotline PBX"
             for n in sandbox.nodes}
    names.update(city="city simulator", edge="edge (Kamailio)")
    for st in sandbox.status().values():
        state = f"up (pid {st.pid})" if st.running else f"down ({st.detail})"
        ami = f"  AMI {st.address}:{st.ami_port}" if st.ami_port else ""
        print(f"{names[st.name]:<15} {state:<18} SIP {st.address}:{st.sip_port}{ami}")
    if sandbox.clustered and sandbox.status()["edge"].running:
        try:
            for d in sandbox.edge.destinations():
                print(f"  edge -> {d.uri:<24} {'in rotation' if d.up else 'out'} ({d.flags})")
        except Exception as e:  # noqa: BLE001 - status tells, never fails on this
            print(f"  edge: cannot read the dispatcher ({e})")
