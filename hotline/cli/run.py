"""``hotline run`` (the controller) and ``hotline demo`` (sandbox + controller + sample calls)."""

from __future__ import annotations

import argparse

from twisted.internet import defer

from hotline.cli.reactor import react as _react
from hotline.config import Config
from hotline.terminal import say


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="run the controller (FastAGI, AMI, services)")
    r.set_defaults(func=_run)
    d = sub.add_parser("demo", help="start the sandbox and the controller, place sample calls")
    d.add_argument("--calls", type=int, default=3, help="sample citizen calls to place")
    d.add_argument("--keep-sandbox", action="store_true",
                   help="leave the PBX sandbox running on exit")
    d.add_argument("--no-history", dest="history", action="store_false",
                   help="skip the 90 days of generated SAMPLE history (calls, agents' "
                        "shifts, tickets through their life, callbacks, ratings, grid-worker "
                        "logs) that fill the indices, warnings and reports")
    d.set_defaults(func=_demo)


def _run(_args: argparse.Namespace, cfg: Config) -> int:
    from hotline.logging import start_logging

    start_logging(cfg.state_dir / "logs")
    return _react(lambda reactor: _serve(reactor, cfg))


def _demo(args: argparse.Namespace, cfg: Config) -> int:
    from hotline.cli.demo import run_demo
    from hotline.logging import start_logging

    log_path = start_logging(cfg.state_dir / "logs")
    return _react(lambda reactor: run_demo(reactor, cfg, calls=args.calls,
                                           keep_sandbox=args.keep_sandbox, log_path=log_path,
                                           history=args.history))


async def _serve(reactor, cfg: Config) -> None:
    from hotline.controller import Controller

    controller = Controller(config=cfg, reactor=reactor)
    await controller.start()
    say(f"controller running; FastAGI {cfg['agi']['bind']}:{cfg['agi']['port']}; "
        "Ctrl-C or SIGTERM stops it")
    stopped = defer.Deferred()
    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: defer.Deferred.fromCoroutine(controller.stop()))
    await stopped  # until the reactor shuts down (Ctrl-C, SIGTERM)


