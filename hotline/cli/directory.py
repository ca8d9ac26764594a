"""``hotline directory import FILE | export | search QUERY``: the municipal hotline directory
from the command line, through the same service the console uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hotline.cli.database import unit_of_work, with_session
from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("directory", help="import, export or search the hotline directory")
    dsub = p.add_subparsers(dest="directory_command", metavar="ACTION")
    dsub.required = True
    imp = dsub.add_parser("import", help="add the entries of a CSV file (all or nothing)")
    imp.add_argument("file", help="CSV file (see hotline/directory/sample_directory.csv)")
    imp.add_argument("--replace", action="store_true",
                     help="replace the whole directory with the file's entries")
    imp.set_defaults(func=_import)
    exp = dsub.add_parser("export", help="write the directory as CSV")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.set_defaults(func=_export)
    search = dsub.add_parser("search", help="search by name, keyword, category or pinyin "
                                            "initials (gs finds 供水)")
    search.add_argument("query", nargs="*", help="words to find; none lists entries")
    search.add_argument("--category", help="only entries of this category")
    search.add_argument("--open-now", action="store_true", help="only lines open right now")
    search.add_argument("--limit", type=int, default=20)
    search.set_defaults(func=_search)


def _service(cfg: Any):
    from hotline.directory.service import DirectoryService

    return DirectoryService(timezone=cfg["site"]["timezone"])


def _import(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.directory.exceptions import DirectoryImportError

    try:
        text = Path(args.file).read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"cannot read {args.file}: {e}") from None
    service = _service(cfg)
    try:
        with unit_of_work(cfg) as session:
            result = service.import_csv(session, text, replace=args.replace)
    except DirectoryImportError as e:
        print(f"hotline: {args.file}: {e}", file=sys.stderr)
        return 1
    print(f"imported {result.added} entries from {args.file}"
          + (f", replacing {result.removed}" if args.replace else "")
          + (f"; new departments: {', '.join(result.departments_created)}"
             if result.departments_created else ""))
    return 0


def _export(args: argparse.Namespace, cfg: Any) -> int:
    text = with_session(cfg, _service(cfg).export_csv)
    if args.output:
        Path(args.output).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _search(args: argparse.Namespace, cfg: Any) -> int:
    service = _service(cfg)
    with_session(cfg, service.refresh)
    hits = service.search(" ".join(args.query), category=args.category,
                          open_now=args.open_now, limit=args.limit)
    for e in hits:
        fallback = f" (fallback {', '.join(e.fallback_numbers)})" if e.fallback_numbers else ""
        print(f"{e.number}  {e.name}  [{'/'.join(e.categories)}]  {e.service_hours}{fallback}")
    if not hits:
        print("no entry found", file=sys.stderr)
        return 1
    return 0
