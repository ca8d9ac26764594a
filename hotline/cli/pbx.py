"""``hotline pbx build|start|stop|status``: the local PBX sandbox."""

from __future__ import annotations

import argparse
import time

from hotline.cli.main import CommandError
from hotline.config import Config
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


def _start(_args: argparse.Namespace, cfg: Config) -> int:
    sandbox = Sandbox(cfg)
    try:
        sandbox.start()
    except SandboxError as e:
        raise CommandError(str(e)) from None
    _print_status(sandbox)
    print(f"logs: {sandbox.var_dir}/{{pbx,city}}/log   recordings: {sandbox.var_dir}/pbx/recordings")
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
    names = {"pbx": "hotline PBX", "city": "city simulator"}
    for st in sandbox.status().values():
        state = f"up (pid {st.pid})" if st.running else f"down ({st.detail})"
        print(f"{names[st.name]:<15} {state:<18} SIP 127.0.0.1:{st.sip_port}  "
              f"AMI 127.0.0.1:{st.ami_port}")
