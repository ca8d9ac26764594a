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
    from db import migrate

    url = cfg.database_url
    if url.startswith("sqlite:///"):
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
    before = migrate.current_revision(url)
    migrate.upgrade(url, args.revision)
    after = migrate.current_revision(url)
    print(f"database {_where(url)}: {before or 'empty'} -> {after}")
    return 0


def _current(_args: argparse.Namespace, cfg: Any) -> int:
    from db import migrate

    url = cfg.database_url
    current = migrate.current_revision(url)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (newest is {head}; run hotline db upgrade)"
    print(f"database {_where(url)}: revision {current or 'none'}, {state}")
    return 0


def _seed(_args: argparse.Namespace, cfg: Any) -> int:
    from db import migrate
    from db.session import begin, make_engine, make_session_factory
    from hotline.directory.service import DirectoryService
    from hotline.sample import AlreadySeeded, seed_sample

    url = cfg.database_url
    if migrate.current_revision(url) != migrate.head_revision():
        raise CommandError("the database schema is not up to date: run hotline db upgrade first")
    engine = make_engine(url)
    try:
        with begin(make_session_factory(engine)) as session:
            result = seed_sample(session, DirectoryService(timezone=cfg["site"]["timezone"]))
    except AlreadySeeded as e:
        raise CommandError(str(e)) from None
    finally:
        engine.dispose()
    print(f"seeded {result.level1_grids} level-1 and {result.level2_grids} level-2 grids, "
          f"{result.grid_workers} grid workers, {result.departments} departments, "
          f"{result.directory_entries} directory entries (sample data)")
    return 0
