# -*- test-case-name: tests.tickets.test_worklists -*-
"""The three worklists with their lights at 1,000,000 tickets of which 100,000 open, on SQLite
and on PostgreSQL, beside a naive ORM loop producing the same lists.

    python -m bench.worklist [--rebuild] [--runs 200] [--skip-postgres]

Data: 46 departments, 200,000 citizens, 1,000,000 tickets over two years: 900,000 finished
(closed, replied, followed up, merged) and 100,000 open: 15,000 received, 5,000 returned and
5,000 reopened (the dispatcher's queue), 25,000 dispatched and 50,000 being handled (the
departments' lists), ~15 % of those past their deadline (the 督办 list); one in ten open tickets
has a co-handling department; 20,000 department notices and 2,000 pending extension requests.
Generated once with a fixed seed into a SQLite file cached under $XDG_CACHE_HOME/hotline/bench
(``--rebuild`` makes it again); PostgreSQL: a throw-away cluster, rows copied with COPY.

One request is what the API does for ``GET /api/worklists/{name}``: ``TicketActions.worklist``
in one session (the calendar with the site's exceptions loaded, 50 rows, each light computed by
the one deadline rule, and for the department and 督办 lists the notices and extension
requests). Timed ``--runs`` times per list after one warm-up; p50 and p99 per list. Goal: p99
< 50 ms for every list on each back end. The peer loads every ticket of the list's statuses as
ORM objects, computes each light, sorts in Python and keeps 50 (department and citizen loaded
lazily for those), and must give the same first 50 tickets. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import time
import zoneinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench._util import print_json_line, print_table
from bench.report import fresh_sqlite, insert_rows, load_postgres, start_postgres
from db import migrate
from db.models import Department, Ticket
from db.session import make_engine, make_session_factory
from hotline.tickets.actions import TicketActions
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.clock import DeadlineRules, WorkCalendar, light
from hotline.tickets.schemas import DISPATCH_QUEUE, WITH_DEPARTMENT
from hotline.tickets.service import TicketService, default_rules
from hotline.web.accounts import Principal

SEED = 17
DATA_VERSION = 3
DEPARTMENTS = 46
CITIZENS = 200_000
TICKETS = 1_000_000
OPEN = {"received": 15_000, "returned": 5_000, "reopened": 5_000, "dispatched": 25_000,
        "handling": 50_000}
FINISHED = ["closed"] * 14 + ["replied", "followed_up", "merged"]
NOTICES = 20_000
EXTENSIONS = 2_000
TZ = "Asia/Shanghai"
KINDS = ["complaint", "help", "consultation", "suggestion", "praise"]
#: The moment the lists are read at: the data's last instant (UTC, naive in SQLite).
NOW = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)
SPAN_DAYS = 730
LIMIT = 50
_FMT = "%Y-%m-%d %H:%M:%S.%f"
TABLES: dict[str, list[str]] = {
    "department": ["id", "code", "name", "kind", "response_time_limit_hours"],
    "citizen": ["id", "phone", "name", "created_at"],
    "ticket": ["id", "number", "kind", "channel", "status", "category", "description",
               "citizen_id", "department_id", "created_at", "updated_at", "version",
               "clock_started_at", "due_at", "warn_at", "first_contact_due_at",
               "first_contacted_at", "reopen_count", "needs_completion"],
    "ticket_co_department": ["ticket_id", "department_id"],
    "department_notice": ["id", "ticket_id", "department_id", "kind", "at", "due_at", "text",
                          "call_status", "call_attempts"],
    "ticket_extension": ["id", "ticket_id", "department_id", "days", "reason", "status",
                         "requested_by", "requested_at"],
}


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "bench" / (
        f"worklist-{migrate.schema_fingerprint()}-{DATA_VERSION}-{TICKETS}.db")


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).strftime(_FMT)


def build(path: Path) -> float:
    """Make the SQLite file: schema by the migrations, rows by executemany; seconds taken."""
    started = time.perf_counter()
    con = fresh_sqlite(path)
    rng = random.Random(SEED)
    rules = default_rules()
    start = NOW - dt.timedelta(days=SPAN_DAYS)

    def insert(table: str, rows: Any) -> None:
        insert_rows(con, table, TABLES[table], rows)

    with con:
        insert("department", ((i, f"B{i:02d}", f"部门{i}", "partner", 72)
                              for i in range(1, DEPARTMENTS + 1)))
        insert("citizen", ((i, f"13{i:09d}", None, _ts(start)) for i in range(1, CITIZENS + 1)))
    statuses = [s for s, n in OPEN.items() for _ in range(n)]
    statuses += [rng.choice(FINISHED) for _ in range(TICKETS - len(statuses))]
    rng.shuffle(statuses)
    # Deadlines from the rule's days per kind at about 1.4 calendar days a working day (the
    # lists only read the stored columns; the rule itself is tested in tests/tickets).
    open_with_dept: list[tuple[int, int, str]] = []

    def tickets() -> Any:
        for i, status in enumerate(statuses, start=1):
            kind = rng.choice(KINDS)
            opened = status in OPEN
            age_days = rng.expovariate(1 / 12) if opened else rng.uniform(0, SPAN_DAYS)
            created = NOW - dt.timedelta(days=min(age_days, SPAN_DAYS))
            dept = None
            clock_start = due = warn = fc_due = None
            if status in WITH_DEPARTMENT or not opened or status == "reopened":
                dept = rng.randint(1, DEPARTMENTS)
                clock_start = created + dt.timedelta(hours=rng.uniform(0.5, 8))
                days = rules.days(kind, reopened=status == "reopened")
                # Working days as about 1.4 calendar days each: overdue ~15 % of the open ones.
                due = clock_start + dt.timedelta(days=days * 1.4)
                warn = clock_start + (due - clock_start) * rules.warn_fraction
                if kind in rules.first_contact_kinds:
                    fc_due = clock_start + dt.timedelta(hours=rules.first_contact_hours)
            elif status in ("received", "returned"):
                clock_start = created
                due = created + dt.timedelta(days=1.4)
                warn = created + dt.timedelta(days=1.05)
            if status == "returned":
                dept = None
            if status in WITH_DEPARTMENT and dept is not None:
                open_with_dept.append((i, dept, status))
            yield (i, f"RX{i:010d}", kind, "hotline", status, rng.choice(["供水", "物业"]),
                   "bench", rng.randint(1, CITIZENS), dept, _ts(created), _ts(created), 1,
                   _ts(clock_start) if clock_start else None, _ts(due) if due else None,
                   _ts(warn) if warn else None, _ts(fc_due) if fc_due else None,
                   _ts(clock_start) if fc_due and rng.random() < 0.8 else None,
                   1 if status == "reopened" else 0, 0)
    with con:
        insert("ticket", tickets())  # executemany takes the rows as they are made
        co = [(t, (d % DEPARTMENTS) + 1) for t, d, _ in open_with_dept if rng.random() < 0.1]
        insert("ticket_co_department", co)
        picks = rng.sample(open_with_dept, NOTICES)
        insert("department_notice", (
            (n, t, d, rng.choice(["remind", "supervise"]),
             _ts(NOW - dt.timedelta(days=rng.uniform(0, 30))), _ts(NOW), "临期提醒", "done", 1)
            for n, (t, d, _) in enumerate(picks, start=1)))
        handling = [(t, d) for t, d, s in open_with_dept if s == "handling"]
        insert("ticket_extension", (
            (n, t, d, 3.0, "需协调", "pending", "bench", _ts(NOW - dt.timedelta(hours=n % 72)))
            for n, (t, d) in enumerate(rng.sample(handling, EXTENSIONS), start=1)))
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - started


# -- measuring -------------------------------------------------------------------------------------

def _actions() -> TicketActions:
    service = TicketService(clock=lambda: NOW, timezone=TZ, rules=default_rules())
    store = AttachmentStore(Path("/nonexistent"), max_bytes=1, types=[])
    return TicketActions(service=service, attachments=store)


def _user(role: str, department: int | None = None) -> Principal:
    return Principal(1, f"bench-{role}", role, role, None, department, None, None, "")


def _busiest_department(session: Session) -> int:
    from sqlalchemy import func

    return session.execute(
        select(Ticket.department_id, func.count()).where(
            Ticket.status.in_([str(s) for s in WITH_DEPARTMENT]))
        .group_by(Ticket.department_id).order_by(func.count().desc()).limit(1)).first()[0]


def timed(factory: Any, fn: Any, runs: int) -> tuple[list[float], Any]:
    """``fn(session)`` in a fresh session, once to warm up, then ``runs`` times; ms each."""
    with factory() as session:
        result = fn(session)
    samples = []
    for _ in range(runs):
        with factory() as session:
            t0 = time.perf_counter()
            result = fn(session)
            samples.append((time.perf_counter() - t0) * 1000)
    return samples, result


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def naive(session: Session, name: str, department: int) -> list[int]:
    """The peer: every ticket of the list's statuses as ORM objects, a light each, sorted and
    cut in Python; department and citizen loaded lazily for the 50 shown."""
    rules: DeadlineRules = default_rules()
    calendar = WorkCalendar(on_fallback=lambda year: None)
    zone = zoneinfo.ZoneInfo(TZ)
    if name == "dispatch":
        tickets = session.scalars(select(Ticket).where(
            Ticket.status.in_([str(s) for s in DISPATCH_QUEUE]))).all()
        by = ("created_at",)
    elif name == "department":
        from db.models import TicketCoDepartment

        co = set(session.scalars(select(TicketCoDepartment.ticket_id).where(
            TicketCoDepartment.department_id == department)).all())
        tickets = [t for t in session.scalars(select(Ticket).where(
            (Ticket.department_id == department) | Ticket.id.in_(co))).all()
            if t.status in WITH_DEPARTMENT]
        by = ("co", "due_at")  # the lead's tickets first, then those it co-handles
    else:
        tickets = session.scalars(select(Ticket).where(
            Ticket.status.in_([str(s) for s in WITH_DEPARTMENT]))).all()
        by = ("due_at",)

    def key(t: Ticket) -> tuple[Any, ...]:
        return tuple(t.department_id != department if f == "co" else getattr(t, f)
                     for f in by) + (t.id,)
    shown = []
    for t in tickets:
        shade = light(t.clock_started_at, t.due_at, NOW, calendar, zone,
                      warn_fraction=rules.warn_fraction, warn_at=t.warn_at,
                      first_contact_due_at=t.first_contact_due_at,
                      first_contacted_at=t.first_contacted_at)
        if name == "supervise" and (t.due_at is None or t.due_at >= NOW):
            continue
        shown.append((key(t), t, shade))
    shown.sort(key=lambda x: x[0])
    out = []
    for _, t, _ in shown[:LIMIT]:
        _ = (t.department.name if t.department else None,
             t.citizen.masked_phone if t.citizen else None)
        out.append(t.id)
    return out


def run_backend(url: str, runs: int, naive_runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    actions = _actions()
    try:
        with factory() as session:
            dept = _busiest_department(session)
            code = session.get(Department, dept).code
        users = {"dispatch": _user("dispatcher"), "department": _user("liaison", dept),
                 "supervise": _user("supervisor")}
        out: dict[str, Any] = {"department_code": code}
        for name, user in users.items():
            samples, result = timed(
                factory, lambda s, n=name, u=user: actions.worklist(s, u, n, limit=LIMIT), runs)
            ours = [i["id"] for i in result["items"]]
            peer_samples, peer = timed(factory, lambda s, n=name: naive(s, n, dept), naive_runs)
            out[name] = {"p50_ms": statistics.median(samples), "p99_ms": p99(samples),
                         "rows": len(ours), "lights": sorted({i["light"] for i in
                                                              result["items"]}),
                         "naive_ms": statistics.median(peer_samples),
                         "same": ours == peer[:len(ours)]}
        return out
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="generate the data again")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per list")
    parser.add_argument("--naive-runs", type=int, default=3, help="timed runs of the peer")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    path = _cache_path()
    build_s = None
    if args.rebuild or not path.exists():
        print(f"building {path} ({TICKETS:,} tickets, {sum(OPEN.values()):,} open)...",
              flush=True)
        build_s = build(path)
        print(f"built in {build_s:.1f} s", flush=True)
    else:
        print(f"reusing {path}", flush=True)
    results = {"sqlite": run_backend(f"sqlite:///{path}", args.runs, args.naive_runs)}
    load_s = None
    if not args.skip_postgres:
        server, base = start_postgres()
        try:
            url = server.url("hotline_bench")
            print("loading PostgreSQL with COPY...", flush=True)
            load_s = load_postgres(url, path, TABLES)
            print(f"loaded in {load_s:.1f} s", flush=True)
            results["postgresql"] = run_backend(url, args.runs, args.naive_runs)
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)

    rows = []
    labels = {"dispatch": "dispatcher's queue (派单)", "department": "a department's list",
              "supervise": "督办 list (overdue)"}
    for backend, r in results.items():
        for name, label in labels.items():
            c = r[name]
            rows.append([backend, label + (f" {r['department_code']}"
                                           if name == "department" else ""),
                         f"{c['p50_ms']:.1f}", f"{c['p99_ms']:.1f}",
                         "yes" if c["p99_ms"] < 50 else "NO", f"{c['naive_ms']:,.0f}",
                         f"{c['naive_ms'] / c['p50_ms']:,.0f}x",
                         "same" if c["same"] else "DIFFERENT", "/".join(c["lights"])])
    print()
    print_table(["backend", "list (50 rows, lights)", "p50 ms", "p99 ms", "< 50 ms",
                 "naive ORM ms", "naive/ours", "peer's rows", "lights seen"], rows)
    print()
    load = os.getloadavg()
    print(f"machine load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} cores (shared machine: read the figures with that in mind)")
    result: dict[str, Any] = {"tickets": TICKETS, "open": sum(OPEN.values()), "runs": args.runs,
                              "loadavg_1m": round(load[0], 1),
                              "build_s": round(build_s, 1) if build_s else None,
                              "postgres_load_s": round(load_s, 1) if load_s else None}
    for backend, r in results.items():
        result[f"worklist_p99_ms_{backend}"] = round(max(r[n]["p99_ms"] for n in labels), 2)
        for name in labels:
            result[f"{name}_p50_ms_{backend}"] = round(r[name]["p50_ms"], 2)
            result[f"{name}_p99_ms_{backend}"] = round(r[name]["p99_ms"], 2)
            result[f"{name}_naive_ms_{backend}"] = round(r[name]["naive_ms"], 1)
        result[f"peer_agrees_{backend}"] = all(r[n]["same"] for n in labels)
    print_json_line(result)


if __name__ == "__main__":
    main()
