"""``hotline db upgrade|current|seed-sample``: bring the database's schema up to date, say
where it is, and fill an empty database with the district's sample records."""

from __future__ import annotations

import argparse
from typing import Any

from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema and sample data")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    up = dsub.add_parser("upgrade", help="apply the migrations (to the newest by default)")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.set_defaults(func=_upgrade)
    cur = dsub.add_parser("current", help="show the database's schema revision")
    cur.set_defaults(func=_current)
    seed = dsub.add_parser("seed-sample",
                           help="add sample grids, departments and the sample directory")
    seed.set_defaults(func=_seed)


def _where(url: str) -> str:
    return url.split("@")[-1]


def _upgrade(args: argparse.Namespace, cfg: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from db import migrate
    from hotline.cli.database import database_problem, sqlite_path

    url = cfg.database_url
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        before = migrate.current_revision(url)
        migrate.upgrade(url, args.revision)
        after = migrate.current_revision(url)
    except SQLAlchemyError as e:
        raise database_problem(url, e) from None
    print(f"database {_where(url)}: {before or 'empty'} -> {after}")
    return 0


def _current(_args: argparse.Namespace, cfg: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from db import migrate
    from hotline.cli.database import database_problem, sqlite_path

    url = cfg.database_url
    path = sqlite_path(url)
    if path is not None and not path.exists():
        print(f"database {_where(url)}: none yet (run hotline db upgrade, or any command "
              "that uses it)")
        return 0
    try:
        current = migrate.current_revision(url)
    except SQLAlchemyError as e:
        raise database_problem(url, e) from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (newest is {head}; run hotline db upgrade)"
    print(f"database {_where(url)}: revision {current or 'none'}, {state}")
    return 0


def _seed(_args: argparse.Namespace, cfg: Any) -> int:
    from hotline.cli.database import with_session
    from hotline.directory.service import DirectoryService
    from hotline.sample import AlreadySeeded, seed_sample

    try:
        result = with_session(cfg, seed_sample,
                              DirectoryService(timezone=cfg["site"]["timezone"]))
    except AlreadySeeded as e:
        raise CommandError(str(e)) from None
    print(f"seeded {result.level1_grids} level-1 and {result.level2_grids} level-2 grids, "
          f"{result.grid_workers} grid workers, {result.departments} departments, "
          f"{result.directory_entries} directory entries (sample data)")
    return 0
