"""``hotline config check|show``: explain what is wrong with a configuration, or print it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hotline import config as config_mod
from hotline.config import toml_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check or show the configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    check = csub.add_parser("check", help="explain every problem in the configuration")
    check.set_defaults(func=_check, needs_config=False)
    show = csub.add_parser("show", help="print the effective configuration (no secrets)")
    show.set_defaults(func=_show)
    defaults = csub.add_parser("defaults", help="print the documented defaults")
    defaults.set_defaults(func=_defaults, needs_config=False)


def _check(args: argparse.Namespace, _cfg: Any) -> int:
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as e:
        print(f"configuration has {len(e.problems)} problem(s):", file=sys.stderr)
        for problem in e.problems:
            print(f"  {e.source}: {problem}", file=sys.stderr)
        return 2
    print(f"configuration OK ({cfg.source}); mode {cfg['site']['mode']}, "
          f"database {cfg.database_url.split('@')[-1]}")
    return 0


def _show(_args: argparse.Namespace, cfg: config_mod.Config) -> int:
    for section, values in cfg.data.items():
        print(f"[{section}]")
        for key, value in values.items():
            print(f"{key} = {_toml_value(value)}")
        print()
    return 0


def _defaults(_args: argparse.Namespace, _cfg: Any) -> int:
    sys.stdout.write(config_mod.DEFAULTS_TEXT)
    return 0


#: The one TOML writer is hotline.config's (kept under this name for its callers).
_toml_value = toml_value
