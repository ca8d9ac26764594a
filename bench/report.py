"""The callback SLA report over 1,000,000 tickets and 300,000 callbacks, on SQLite and on
PostgreSQL, beside a naive ORM loop computing the same numbers; the query plans are checked for
index use.

    python -m bench.report [--rebuild] [--runs 5] [--skip-postgres]

Data: 46 departments, 652 grids, 750 agents, 200,000 citizens, 1,000,000 tickets and 300,000
callbacks due over two years (~80 % met, 8 % late, 5 % not reached, 3 % cancelled, the last
weeks pending), generated once with a fixed seed into a SQLite file cached under
$XDG_CACHE_HOME/hotline/bench (``--rebuild`` makes it again). PostgreSQL: a throw-away cluster
in a temporary directory, schema by the migrations, rows copied from that file with COPY.

One "report" is what the console page does: ``sla_report`` (groups, totals, lateness, worst
offenders) + the first 100 callbacks of the drill-down + the HTML page + the CSV. Goal < 2 s on
each back end, for a month of callbacks (the usual supervisor period); a quarter and a year are
timed too. The peer loads the month's callbacks as ORM objects and counts in Python (N+1
ticket loads), and must find the same totals. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench._util import print_json_line, print_table
from db import migrate
from db.models import Callback
from db.session import make_engine, make_session_factory
from hotline.reports import render
from hotline.reports.periods import Period, period
from hotline.reports.sla import SLAFilter, sla_report, sla_tickets
from hotline.tickets.schemas import CHANNELS

SEED = 8365
#: Bumped when the schema of a revision still being written changes (its indexes).
DATA_VERSION = 2
DEPARTMENTS = 46
LEVEL1, LEVEL2 = 120, 532
AGENTS = 750
CITIZENS = 200_000
TICKETS = 1_000_000
CALLBACKS = 300_000
BATCH = 50_000
TZ = "Asia/Shanghai"
KINDS = ["complaint", "help", "consultation", "suggestion", "praise"]
STATUSES = ["closed"] * 8 + ["received", "dispatched", "handling", "replied"]
CATEGORIES = ["物业", "供水", "供暖", "噪声", "交通", "市容", "劳动", "教育"]
#: The data's last day; callbacks are due over the two years before it.
LAST_DAY = dt.date(2026, 10, 31)
SPAN_DAYS = 730
MONTH = ("2026-09-01", "2026-09-30")
QUARTER = ("2026-07-01", "2026-09-30")
YEAR = ("2025-10-01", "2026-09-30")
_FMT = "%Y-%m-%d %H:%M:%S.%f"
#: Loaded in this order (foreign keys) and with these columns, SQLite file → PostgreSQL.
TABLES: dict[str, list[str]] = {
    "department": ["id", "code", "name", "kind", "response_time_limit_hours"],
    "grid": ["id", "code", "name", "level", "parent_id"],
    "agent": ["id", "code", "name", "state"],
    "citizen": ["id", "phone", "name", "created_at"],
    "ticket": ["id", "number", "kind", "channel", "status", "category", "grid_id",
               "description", "citizen_id", "department_id", "created_at", "updated_at"],
    "callback": ["id", "ticket_id", "citizen_id", "due_at", "owner_agent_id", "status",
                 "attempts", "sla_met", "reached_at", "created_at", "sla_deadline_at",
                 "quiet_hours_moved"],
}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "bench"


def _cache_path() -> Path:
    return _cache_dir() / (f"report-{migrate.schema_fingerprint()}-{DATA_VERSION}-{TICKETS}-"
                           f"{CALLBACKS}.db")


def _ts(moment: dt.datetime) -> str:
    return moment.strftime(_FMT)


def fresh_sqlite(path: Path) -> sqlite3.Connection:
    """A new SQLite file at ``path`` with the schema the migrations build, opened for a fast
    bulk load (the benchmarks' generated data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    migrate.upgrade(f"sqlite:///{path}")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    return con


def insert_rows(con: sqlite3.Connection, table: str, cols: list[str], rows: Any) -> None:
    """``rows`` (tuples in the order of ``cols``) into ``table``."""
    con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' * len(cols))})", rows)


def build(path: Path) -> float:
    """Make the SQLite file: schema by the migrations, rows by executemany. Returns seconds."""
    started = time.perf_counter()
    con = fresh_sqlite(path)
    rng = random.Random(SEED)
    end = dt.datetime.combine(LAST_DAY, dt.time(16, 0))  # site midnight, in UTC (naive)
    start = end - dt.timedelta(days=SPAN_DAYS)
    span = int((end - start).total_seconds())
    channels = list(CHANNELS)

    def insert(table: str, rows: Any) -> None:
        insert_rows(con, table, TABLES[table], rows)

    with con:
        insert("department", ((i, f"B{i:02d}", f"部门{i}", "partner", 72)
                              for i in range(1, DEPARTMENTS + 1)))
        insert("grid", [(i, f"G{i:03d}", f"第{i}网格", 1, None) for i in range(1, LEVEL1 + 1)]
               + [(LEVEL1 + k, f"G{(k - 1) % LEVEL1 + 1:03d}-{(k - 1) // LEVEL1 + 1:02d}",
                   f"子网格{k}", 2, (k - 1) % LEVEL1 + 1) for k in range(1, LEVEL2 + 1)])
        insert("agent", ((i, f"{1000 + i}", f"坐席{i}", "offline") for i in range(1, AGENTS + 1)))
        insert("citizen", ((i, f"13{i:09d}", None, _ts(start)) for i in range(1, CITIZENS + 1)))
    for offset in range(0, TICKETS, BATCH):
        rows = []
        for i in range(offset + 1, min(offset + BATCH, TICKETS) + 1):
            created = _ts(start + dt.timedelta(seconds=rng.randrange(span)))
            dept = rng.randint(1, DEPARTMENTS) if rng.random() < 0.9 else None
            rows.append((i, f"RX{i:010d}", rng.choice(KINDS), rng.choice(channels),
                         rng.choice(STATUSES), rng.choice(CATEGORIES),
                         rng.randint(1, LEVEL1 + LEVEL2), "bench", rng.randint(1, CITIZENS),
                         dept, created, created))
        with con:
            insert("ticket", rows)
    rows = []
    pending_from = end - dt.timedelta(days=14)
    for i in range(1, CALLBACKS + 1):
        due = start + dt.timedelta(seconds=rng.randrange(span))
        deadline = due + dt.timedelta(minutes=10)
        agent = rng.randint(1, AGENTS) if rng.random() < 0.7 else None
        x = rng.random()
        status, met, reached, attempts = "done", None, None, 1
        if due >= pending_from and x < 0.5:
            status, attempts = "pending", 0
        elif x < 0.80:
            met, reached = 1, deadline - dt.timedelta(seconds=rng.randrange(1200))
        elif x < 0.88:
            met = 0
            reached = deadline + dt.timedelta(seconds=int(rng.expovariate(1 / 7200)) + 1)
        elif x < 0.93:
            status, met, attempts = "failed", 0, 3
        elif x < 0.96:
            status = "cancelled"
        else:
            reached = due - dt.timedelta(seconds=rng.randrange(3600))  # met, no flag written
        rows.append((i, rng.randint(1, TICKETS), None, _ts(due), agent, status, attempts, met,
                     _ts(reached) if reached else None, _ts(due - dt.timedelta(days=2)),
                     _ts(deadline), 0))
        if len(rows) == BATCH:
            with con:
                insert("callback", rows)
            rows = []
    with con:
        insert("callback", rows)
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - started


# -- PostgreSQL ------------------------------------------------------------------------------------

def start_postgres(settings: tuple[str, ...] = ()) -> tuple[Any, Path]:
    """A throw-away cluster (the tests' fixture class) in a temporary directory, with extra
    server ``settings`` (``name=value``) if given."""
    import pwd

    from db.postgres import PostgresServer
    from db.postgres import free_port as _free_port
    from db.postgres import postgres_bin_dir as _postgres_bin_dir

    base = Path(tempfile.mkdtemp(prefix="hotline-bench-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    base.chmod(0o700)
    server = PostgresServer(bin_dir=_postgres_bin_dir(), base_dir=base, port=_free_port(),
                            user="postgres", settings=settings)
    server.start()
    server.admin("CREATE DATABASE hotline_bench")
    return server, base


def load_postgres(url: str, source: Path,
                  tables: dict[str, list[str]] | None = None) -> float:
    """Schema by the migrations, then every table (``tables``: name → columns, in foreign-key
    order; this benchmark's by default) copied from the SQLite file with COPY."""
    tables = TABLES if tables is None else tables
    import psycopg

    started = time.perf_counter()
    migrate.upgrade(url)
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        pg: psycopg.Connection = raw.driver_connection  # type: ignore[assignment]
        src = sqlite3.connect(source)
        with pg.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            # Secondary indexes are dropped for the load and made again from their own
            # definitions afterwards (much faster than maintaining them row by row).
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                        "AND tablename = ANY(%s) AND indexname NOT LIKE 'pk_%%' "
                        "AND indexname NOT LIKE 'uq_%%'", (list(tables),))
            indexes = cur.fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            for table, cols in tables.items():
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                        copy.write_row(row)
            pg.commit()
            for _, definition in indexes:
                cur.execute(definition)
            pg.commit()
            for table in tables:
                cur.execute(f"ANALYZE {table}")
            pg.commit()
        src.close()
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - started


# -- measuring -------------------------------------------------------------------------------------

def one_report(session: Session, p: Period, filters: SLAFilter, by: str) -> tuple[Any, int]:
    """What the console's SLA page does; returns the report and the page size in bytes."""
    report = sla_report(session, p, filters, by=by)
    rows = sla_tickets(session, p, filters, limit=100)
    html = render.sla_html(report, tickets=rows)
    data = render.sla_csv(report)
    return report, len(html) + len(data)


def time_report(factory: Callable[[], Session], p: Period, filters: SLAFilter, by: str,
                runs: int) -> tuple[float, float, Any]:
    """First run and median of ``runs`` more, in seconds; each in a fresh session."""
    samples = []
    report = None
    for _ in range(runs + 1):
        with factory() as session:
            t0 = time.perf_counter()
            report, _ = one_report(session, p, filters, by)
            samples.append(time.perf_counter() - t0)
    return samples[0], statistics.median(samples[1:]), report


def naive_orm(factory: Callable[[], Session], p: Period) -> tuple[float, Counter]:
    """The reference peer: the period's callbacks as ORM objects, each ticket loaded lazily,
    the outcome decided in Python, counted by department."""
    t0 = time.perf_counter()
    counts: Counter = Counter()
    with factory() as session:
        callbacks = session.scalars(select(Callback).where(Callback.due_at >= p.start,
                                                           Callback.due_at < p.end)).all()
        for cb in callbacks:
            department = cb.ticket.department_id  # noqa: F841 - the N+1 a naive page does
            if cb.status == "cancelled":
                outcome = "cancelled"
            elif cb.reached_at is not None:
                deadline = cb.sla_deadline_at or cb.due_at
                met = cb.sla_met if cb.sla_met is not None else cb.reached_at <= deadline
                outcome = "met" if met else "late"
            elif cb.sla_met:
                outcome = "met"
            elif cb.sla_met is None and cb.status not in ("done", "failed"):
                outcome = "pending"
            else:
                outcome = "not_reached"
            counts[outcome] += 1
    return time.perf_counter() - t0, counts


def explain(engine: Engine, p: Period, filters: SLAFilter, by: str) -> tuple[bool, list[str]]:
    """Run the report once recording its statements, EXPLAIN each one that reads callbacks, and
    say whether every read of callback and ticket goes through an index."""
    captured: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "callback" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with make_session_factory(engine)() as session:
            one_report(session, p, filters, by)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    sqlite = engine.dialect.name == "sqlite"
    ok = True
    plans = []
    with engine.connect() as conn:
        for statement, params in captured:
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = conn.exec_driver_sql(prefix + statement, params).all()
            lines = [r[-1] for r in rows] if sqlite else [r[0] for r in rows]
            text = "\n".join(lines)
            if sqlite:
                bad = re.search(r"\bSCAN (callback|ticket|t)\b", text)
                good = re.search(r"SEARCH callback USING (COVERING )?INDEX", text)
            else:
                bad = re.search(r"Seq Scan on (callback|ticket)\b", text)
                good = re.search(r"Index.* on (callback|ix_callback)", text)
            ok = ok and not bad and bool(good)
            plans.append(text)
    return ok, plans


def run_backend(name: str, url: str, runs: int, show_plans: bool) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    out: dict[str, Any] = {}
    try:
        cases = [("month", MONTH, SLAFilter(), "department"),
                 ("month, one department, by agent", MONTH, SLAFilter(department="B07"), "agent"),
                 ("quarter", QUARTER, SLAFilter(), "department"),
                 ("year", YEAR, SLAFilter(), "department")]
        for label, (a, b), filters, by in cases:
            p = period(a, b, TZ)
            first, median, report = time_report(factory, p, filters, by, runs)
            index_ok, plans = explain(engine, p, filters, by)
            out[label] = {"first_s": first, "median_s": median, "due": report.totals.due,
                          "totals": report.totals.as_dict(), "index": index_ok, "plans": plans}
            if show_plans or not index_ok:
                print(f"-- {name} {label}: plans ({'index' if index_ok else 'NOT all index'})")
                for plan in plans:
                    print("   " + plan.replace("\n", "\n   "))
        p = period(*MONTH, TZ)
        out["naive_s"], out["naive_counts"] = naive_orm(factory, p)
    finally:
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="generate the data again")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--plans", action="store_true", help="print every query plan")
    args = parser.parse_args()
    path = _cache_path()
    build_s = None
    if args.rebuild or not path.exists():
        print(f"building {path} ({TICKETS:,} tickets, {CALLBACKS:,} callbacks)...", flush=True)
        build_s = build(path)
        print(f"built in {build_s:.1f} s", flush=True)
    else:
        print(f"reusing {path}", flush=True)
    results = {"sqlite": run_backend("sqlite", f"sqlite:///{path}", args.runs, args.plans)}
    load_s = None
    if not args.skip_postgres:
        server, base = start_postgres()
        try:
            url = server.url("hotline_bench")
            print("loading PostgreSQL with COPY...", flush=True)
            load_s = load_postgres(url, path)
            print(f"loaded in {load_s:.1f} s", flush=True)
            results["postgres"] = run_backend("postgres", url, args.runs, args.plans)
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)

    rows = []
    for backend, r in results.items():
        for label in ("month", "month, one department, by agent", "quarter", "year"):
            c = r[label]
            rows.append([backend, label, f"{c['due']:,}", f"{c['first_s']:.3f}",
                         f"{c['median_s']:.3f}", "yes" if c["index"] else "NO",
                         "< 2 s" if label == "month" else ""])
        agree = {k: r["naive_counts"].get(k, 0) for k in ("met", "late", "not_reached",
                                                           "pending", "cancelled")}
        same = all(agree[k] == r["month"]["totals"][k] for k in agree)
        rows.append([backend, "month, naive ORM loop (peer)", f"{sum(agree.values()):,}",
                     f"{r['naive_s']:.3f}", "", "", "same totals" if same else "DIFFERENT"])
        r["peer_agrees"] = same
    print()
    print_table(["backend", "report", "callbacks", "first s", "median s", "index plans", "note"],
                rows)
    print()
    load = os.getloadavg()
    print(f"machine load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} cores (shared machine: read the figures with that in mind)")
    result: dict[str, Any] = {"tickets": TICKETS, "callbacks": CALLBACKS,
                              "loadavg_1m": round(load[0], 1),
                              "period": f"{MONTH[0]}..{MONTH[1]}", "runs": args.runs,
                              "build_s": round(build_s, 1) if build_s else None,
                              "postgres_load_s": round(load_s, 1) if load_s else None}
    for backend, r in results.items():
        result[f"sla_report_s_{backend}"] = round(r["month"]["median_s"], 4)
        result[f"sla_report_first_s_{backend}"] = round(r["month"]["first_s"], 4)
        result[f"sla_report_quarter_s_{backend}"] = round(r["quarter"]["median_s"], 4)
        result[f"sla_report_year_s_{backend}"] = round(r["year"]["median_s"], 4)
        result[f"sla_report_filtered_s_{backend}"] = round(
            r["month, one department, by agent"]["median_s"], 4)
        result[f"naive_orm_s_{backend}"] = round(r["naive_s"], 4)
        result[f"naive_over_ours_{backend}"] = round(r["naive_s"] / r["month"]["median_s"], 1)
        result[f"index_plans_{backend}"] = all(
            r[k]["index"] for k in ("month", "month, one department, by agent"))
        result[f"peer_agrees_{backend}"] = r["peer_agrees"]
    print_json_line(result)


if __name__ == "__main__":
    main()
