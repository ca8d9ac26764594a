# -*- test-case-name: tests.indices.test_aggregate -*-
"""The leader's indices kept as a daily aggregate, against recomputing them from the raw rows,
on SQLite and PostgreSQL.

    python -m bench.indices [--days 120] [--per-day 3000] [--day-size 30000] [--runs 50]
                            [--skip-postgres]

Data (generated per back end with ``hotline.indices.history``, fixed seed): 7 streets, 45
communities, 120 level-1 grids (with sub-grids and residents), 46 departments; ``--days`` days of
about ``--per-day`` demands each, every ticket through its life (dispatch, reply, close or
reopen, rating for most). Then one new day at city scale (``--day-size`` demands, a city line's
~30,000) is written, and the measures are:

- ``full_build_s``: folding every day of the history into ``index_day`` from nothing;
- ``incremental_day_s``: ``catch_up`` after the new day: the work of the refresh job once a
  whole city day has come in (it checks the rows written since the last fold for late ones
  dated in settled days, finds none, and folds the new day);
- ``index_page_p99_ms``: what ``GET /api/indices`` reads for a 30-day period (the grid table
  and the district's daily trend) from the aggregate, ``--runs`` times after one warm-up;
- the same two in this process's CPU time (``*_cpu_*``): on a shared machine the wall clock
  stretches with the load, CPU time much less (for PostgreSQL the server's work is not in it);
- the reference: the same 30 days' grid table recomputed from the raw ticket, event and survey
  rows (``count_events`` over the whole period), timed and compared (must agree exactly).

The city's year: ``--days 365 --per-day 30000 --runs 30 --reference-runs 1`` (10 M demands,
30 M events: weekends are quieter); about 90 min in all on the 2-core machine. Measured there
(2026-12-05): loading 35 min on SQLite (a few days per transaction), 49 min on PostgreSQL
(COPY, stretched by other work on the machine); the full build 7.8 min on each; the new day
0.49 s (SQLite) and 0.82 s (PostgreSQL); the page's p99 11 and 25 ms. What the
aggregate's cost depends on: the incremental fold reads the new day's and the day before's
events whatever the history's length (and, for the repeat rule, each new ticket's citizen's
tickets of the last 30 days: the generator's 50,000 citizens file far more often than a city's
do), and the page reads ~(aggregate rows per day × 30) rows whatever the history's
length. The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench._util import print_json_line, print_table
from bench.report import start_postgres
from db import migrate
from db.models import Community, Department, Grid, IndexDay, Street, Ticket, TicketEvent
from db.session import begin, make_engine, make_session_factory
from hotline.indices.aggregate import catch_up, count_events, day_bounds, grid_rollup
from hotline.indices.history import generate_history
from hotline.indices.queries import index_table, trend

TZ = "Asia/Shanghai"
STREETS, COMMUNITIES, GRIDS, DEPARTMENTS = 7, 45, 120, 46
TODAY = dt.date(2026, 12, 1)


def district(session: Session) -> None:
    """The district's shape (no outlines: the indices do not need them)."""
    streets = [Street(code=f"S{i + 1}", name=f"示例街道{i + 1}") for i in range(STREETS)]
    communities = [Community(code=f"C{i + 1:02d}", name=f"示例社区{i + 1}",
                             street=streets[i % STREETS]) for i in range(COMMUNITIES)]
    session.add_all(streets + communities)
    for i in range(GRIDS):
        grid = Grid(code=f"G{i + 1:03d}", name=f"第{i + 1}网格", level=1,
                    population=2000 + 37 * i, community=communities[i % COMMUNITIES])
        session.add(grid)
        for n in range(4):
            session.add(Grid(code=f"G{i + 1:03d}-{n + 1:02d}", name="子网格", level=2,
                             parent=grid))
    session.add_all(Department(code=f"D{i + 1:02d}", name=f"示例部门{i + 1}")
                    for i in range(DEPARTMENTS))
    session.flush()


def _grid_table_from_raw(session: Session, first: dt.date, last: dt.date) -> dict[str, int]:
    """The reference: the period's grid table counted from the raw rows, day by day (the
    repeat rule's window starts at each ticket's day), as a view without the aggregate would."""
    codes = dict(session.execute(select(Grid.id, Grid.code)).all())
    rollup = grid_rollup(session)
    out: dict[str, int] = {}
    day = first
    while day <= last:
        start, end = day_bounds(day, TZ)
        counts, _events = count_events(session, start, end, rollup=rollup)
        for (grid, _dept, _cat), values in counts.items():
            code = codes.get(grid, "") if grid is not None else ""
            out[code] = out.get(code, 0) + values["demands"] + values["closed"] + \
                values["satisfied"] + values["repeats"]
        day += dt.timedelta(days=1)
    return out


def _grid_table(session: Session, first: dt.date, last: dt.date) -> dict[str, int]:
    return {r.code: r.counts["demands"] + r.counts["closed"] + r.counts["satisfied"]
            + r.counts["repeats"] for r in index_table(session, "grid", first, last)}


#: Days of history written per transaction while loading (one huge transaction makes SQLite's
#: write-ahead log grow to the size of the whole history).
LOAD_CHUNK_DAYS = 5

#: PostgreSQL settings of the benchmark's server: buffers and checkpoints sized for a year of
#: a city line (as a site with that line would size them), instead of the 128 MB default.
POSTGRES_SETTINGS = ("shared_buffers=2GB", "max_wal_size=16GB", "checkpoint_timeout=30min",
                     "maintenance_work_mem=512MB", "work_mem=64MB")


def _loading_engine(url: str) -> Engine:
    """The engine that writes the generated history: for SQLite's scratch file, no syncing and
    a page cache that holds the indices (the history is data to measure on, not data to keep).
    The measures use the hotline's own engine (``make_engine``) with its own settings."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -4000000")  # KiB: 4 GB
            cursor.close()
    return engine


def load_history(url: str, days: int, per_day: int, first_day: dt.date) -> tuple[int, int, int]:
    """The district and ``days`` days of history, ``LOAD_CHUNK_DAYS`` days per transaction
    (each chunk with its own seed); returns (tickets, events, ratings)."""
    engine = _loading_engine(url)
    factory = make_session_factory(engine)
    totals = [0, 0, 0]
    try:
        with begin(factory) as s:
            district(s)
        for offset in range(0, days, LOAD_CHUNK_DAYS):
            with begin(factory) as s:
                part = generate_history(
                    s, first_day=first_day + dt.timedelta(days=offset),
                    days=min(LOAD_CHUNK_DAYS, days - offset), per_day=per_day, timezone=TZ,
                    now=day_bounds(TODAY, TZ)[0], citizens=50_000, seed=19 + offset)
            totals = [totals[0] + part.tickets, totals[1] + part.events,
                      totals[2] + part.surveys]
            if offset and offset % 30 < LOAD_CHUNK_DAYS:
                print(f"  ... {offset + LOAD_CHUNK_DAYS} of {days} days, {totals[0]:,} tickets",
                      flush=True)
    finally:
        engine.dispose()
    return totals[0], totals[1], totals[2]


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    first_day = TODAY - dt.timedelta(days=args.days)
    try:
        started = time.perf_counter()
        tickets, events, surveys = load_history(url, args.days, args.per_day, first_day)
        generate_s = time.perf_counter() - started
        print(f"[{name}] history: {tickets:,} tickets, {events:,} events, "
              f"{surveys:,} ratings in {generate_s:.1f} s", flush=True)
        if url.startswith("postgresql"):
            with engine.begin() as c:
                for table in ("ticket", "ticket_event", "survey_result", "citizen"):
                    c.exec_driver_sql(f"ANALYZE {table}")
        started = time.perf_counter()
        with begin(factory) as s:
            folded = catch_up(s, TODAY - dt.timedelta(days=1), timezone=TZ, rebuild=True)
        full_build_s = time.perf_counter() - started
        with factory() as s:
            aggregate_rows = s.scalar(select(func.count(IndexDay.id)))
        print(f"[{name}] full build: {len(folded)} days, {aggregate_rows:,} aggregate rows in "
              f"{full_build_s:.1f} s", flush=True)
        with begin(factory) as s:
            day = generate_history(s, first_day=TODAY, days=1, per_day=args.day_size,
                                   timezone=TZ, now=day_bounds(TODAY, TZ)[1], seed=2026,
                                   citizens=50_000)
        if url.startswith("postgresql"):
            with engine.begin() as c:
                for table in ("ticket", "ticket_event", "survey_result"):
                    c.exec_driver_sql(f"ANALYZE {table}")
        started, cpu = time.perf_counter(), time.process_time()
        with begin(factory) as s:
            incremental = catch_up(s, TODAY, timezone=TZ)
        incremental_s = time.perf_counter() - started
        incremental_cpu_s = time.process_time() - cpu
        print(f"[{name}] new day of {day.tickets:,} demands ({day.events:,} events): refold of "
              f"{[f.day.isoformat() for f in incremental]} in {incremental_s:.2f} s", flush=True)
        first = TODAY - dt.timedelta(days=29)
        samples, cpu_samples = [], []
        for i in range(args.runs + 1):
            started, cpu = time.perf_counter(), time.process_time()
            with factory() as s:
                index_table(s, "grid", first, TODAY)
                trend(s, first, TODAY, step="day")
            if i:
                samples.append((time.perf_counter() - started) * 1000)
                cpu_samples.append((time.process_time() - cpu) * 1000)
        ref_samples = []
        for _ in range(args.reference_runs):
            started = time.perf_counter()
            with factory() as s:
                reference = _grid_table_from_raw(s, first, TODAY)
            ref_samples.append((time.perf_counter() - started) * 1000)
        with factory() as s:
            ours = _grid_table(s, first, TODAY)
            tickets = s.scalar(select(func.count(Ticket.id)))
            events = s.scalar(select(func.count(TicketEvent.id)))
            rows_30 = s.scalar(select(func.count(IndexDay.id)).where(IndexDay.day >= first))
        return {"tickets": tickets, "events": events, "generate_s": generate_s,
                "tickets_per_s": tickets / generate_s,
                "full_build_s": full_build_s, "days": len(folded),
                "aggregate_rows": aggregate_rows, "rows_30_days": rows_30,
                "incremental_day_s": incremental_s, "incremental_cpu_s": incremental_cpu_s,
                "page_cpu_p99_ms": _p(cpu_samples, 0.99), "day_demands": day.tickets,
                "day_events": day.events, "page_p50_ms": statistics.median(samples),
                "page_p99_ms": _p(samples, 0.99),
                "reference_ms": statistics.median(ref_samples),
                "same": ours == reference}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120, help="days of history")
    parser.add_argument("--per-day", type=int, default=3000, help="demands a day in the history")
    parser.add_argument("--day-size", type=int, default=30_000,
                        help="demands of the new day folded incrementally")
    parser.add_argument("--runs", type=int, default=50, help="timed page reads")
    parser.add_argument("--reference-runs", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    base = Path(tempfile.mkdtemp(prefix="hotline-bench-indices-"))
    try:
        results["sqlite"] = run_backend("sqlite", f"sqlite:///{base / 'indices.db'}", args)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if not args.skip_postgres:
        server, pg_base = start_postgres(POSTGRES_SETTINGS)
        try:
            results["postgresql"] = run_backend("postgresql", server.url("hotline_bench"), args)
        finally:
            server.stop()
            shutil.rmtree(pg_base, ignore_errors=True)

    print()
    rows = []
    for backend, r in results.items():
        rows.append([backend, f"{r['tickets']:,}", f"{r['full_build_s']:.1f}",
                     f"{r['incremental_day_s']:.2f}",
                     "yes" if r["incremental_day_s"] < 1 else "NO",
                     f"{r['page_p50_ms']:.1f}", f"{r['page_p99_ms']:.1f}",
                     "yes" if r["page_p99_ms"] < 200 else "NO", f"{r['reference_ms']:,.0f}",
                     f"{r['reference_ms'] / r['page_p50_ms']:,.0f}x",
                     "same" if r["same"] else "DIFFERENT"])
    print_table(["backend", "tickets", "full build s", f"new day ({args.day_size:,}) s",
                 "< 1 s", "page p50 ms", "page p99 ms", "< 200 ms",
                 "recompute 30 d ms (reference)", "reference/ours", "answers"], rows)
    print()
    year = 11_000_000
    for backend, r in results.items():
        print(f"{backend}: generated {r['tickets_per_s']:,.0f} tickets/s; a city year "
              f"({year:,} demands) would take ~{year / r['tickets_per_s'] / 60:,.0f} min to "
              f"generate and ~{r['full_build_s'] / r['days'] * 365 * 30000 / args.per_day / 60:,.1f}"
              f" min to fold from nothing (linear in events); the new day and the page do not "
              f"grow with the history's length")
    for backend, r in results.items():
        print(f"{backend}: this process's CPU time (what the load does not stretch; for "
              f"PostgreSQL the server's own work is not in it): new day "
              f"{r['incremental_cpu_s']:.2f} s, page p99 {r['page_cpu_p99_ms']:.1f} ms")
    load = os.getloadavg()
    print(f"machine load average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on "
          f"{os.cpu_count()} cores (shared machine)")
    out: dict[str, Any] = {"days": args.days, "per_day": args.per_day,
                           "day_size": args.day_size, "runs": args.runs,
                           "loadavg_1m": round(load[0], 1)}
    for backend, r in results.items():
        out[f"tickets_{backend}"] = r["tickets"]
        out[f"full_build_s_{backend}"] = round(r["full_build_s"], 2)
        out[f"incremental_day_s_{backend}"] = round(r["incremental_day_s"], 3)
        out[f"index_page_p99_ms_{backend}"] = round(r["page_p99_ms"], 2)
        out[f"incremental_day_cpu_s_{backend}"] = round(r["incremental_cpu_s"], 3)
        out[f"index_page_cpu_p99_ms_{backend}"] = round(r["page_cpu_p99_ms"], 2)
        out[f"reference_recompute_ms_{backend}"] = round(r["reference_ms"], 1)
        out[f"same_{backend}"] = r["same"]
    out["incremental_day_s"] = max(r["incremental_day_s"] for r in results.values())
    out["index_page_p99_ms"] = max(r["page_p99_ms"] for r in results.values())
    print_json_line(out)


if __name__ == "__main__":
    main()
