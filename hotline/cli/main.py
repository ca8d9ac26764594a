# -*- test-case-name: tests.cli.test_main -*-
"""Entry point of the ``hotline`` command: builds the parser from the command-group modules."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hotline import config as config_mod
from hotline.private import PRIVATE_UMASK

#: Command-group modules under ``hotline.cli``. Each defines ``register(subparsers)``, which adds
#: its sub-commands with ``set_defaults(func=...)``; ``func(args, config) -> int`` runs one.
COMMAND_MODULES: tuple[str, ...] = (
    "agent",
    "bridge",
    "calendar",
    "calls",
    "config",
    "council",
    "db",
    "department",
    "directory",
    "floor",
    "grid",
    "index",
    "incident",
    "pbx",
    "project",
    "report",
    "run",
    "sim",
    "sched",
    "stt",
    "ticket",
    "user",
)


class CommandError(Exception):
    """A command cannot do what was asked; the message is shown as one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="The 365 Hotline controller and its tools.")
    parser.add_argument("--config", metavar="FILE",
                        help="site configuration (TOML); default: $HOTLINE_CONFIG or built-in")
    parser.add_argument("--node", type=int, metavar="N", dest="cluster_node",
                        help="with several hotline PBXs ([cluster]): act as node N's controller "
                             "(its PBX, its seats, its addresses); default cluster.node")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"hotline.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # the database, logs and keys it creates are the owner's alone
    parser = build_parser()
    args = parser.parse_args(argv)
    needs_config = getattr(args, "needs_config", True)
    try:
        cfg = config_mod.load(args.config) if needs_config else None
        if cfg is not None:
            from hotline.pbx.link import node_view

            cfg = node_view(cfg, args.cluster_node)
    except config_mod.ConfigError as e:
        for line in str(e).splitlines():
            print(f"hotline: configuration: {line}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args, cfg) or 0)
    except CommandError as e:
        print(f"hotline: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a database that failed under a command: one line, no traceback
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(e, SQLAlchemyError):
            raise
        from hotline.cli.database import database_problem

        print(f"hotline: {database_problem(cfg.database_url if cfg else '?', e)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
