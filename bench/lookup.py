"""Caller lookup with 1,000,000 tickets and 200,000 citizens on SQLite, and directory search
over the sample directory: the two lookups that run while a citizen waits.

    python -m bench.lookup [--phones 2000] [--rebuild]

The database is built once (schema by the Alembic migrations, rows by bulk executemany) and
cached in $HOTLINE_BENCH_DIR or the temp directory; ``--rebuild`` makes it again. Goals:
caller lookup p99 < 5 ms, directory search p99 < 1 ms. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench._util import print_json_line, print_table
from db import migrate
from db.session import begin, make_engine, make_session_factory
from hotline.directory.service import DirectoryService
from hotline.sample import sample_directory_text
from hotline.tickets.service import lookup_caller

CITIZENS = 200_000
TICKETS = 1_000_000
BATCH = 50_000
SEED = 365
KINDS = ["complaint", "help", "consultation", "suggestion", "praise"]
CHANNELS = ["hotline", "sub_12345", "web", "wechat", "grid_worker", "walk_in"]
STATUSES = ["closed"] * 8 + ["received", "dispatched", "handling", "replied"]
CATEGORIES = ["物业", "供水", "供暖", "噪声", "交通", "市容", "劳动", "教育"]
SEARCHES = ["gs", "供水", "停电", "rljt", "物业", "燃气泄漏", "qz", "公交", "社保", "投诉",
            "区住建", "xfzd", "宽带", "dx", "医保", "垃圾"]


def _phone(i: int) -> str:
    return f"13{i:09d}"


def _cache_path() -> Path:
    base = Path(os.environ.get("HOTLINE_BENCH_DIR") or tempfile.gettempdir())
    return base / f"hotline-bench-lookup-{migrate.schema_fingerprint()}-{CITIZENS}-{TICKETS}.db"


def build(path: Path) -> float:
    """Create the database at ``path``; returns the seconds it took."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    start = now - dt.timedelta(days=5 * 365)
    span = int((now - start).total_seconds())
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    with connection:
        connection.executemany(
            "INSERT INTO citizen (id, phone, name, created_at) VALUES (?, ?, NULL, ?)",
            ((i, _phone(i), start.isoformat(" ")) for i in range(1, CITIZENS + 1)))
    per_day: dict[str, int] = {}
    for offset in range(0, TICKETS, BATCH):
        rows = []
        for i in range(offset + 1, min(offset + BATCH, TICKETS) + 1):
            created = start + dt.timedelta(seconds=rng.randrange(span))
            day = created.strftime("%Y%m%d")
            per_day[day] = per_day.get(day, 0) + 1
            stamp = created.isoformat(" ")
            rows.append((i, f"RX{day}-{per_day[day]:06d}", rng.choice(KINDS),
                         rng.choice(CHANNELS), rng.choice(STATUSES), rng.choice(CATEGORIES),
                         "bench", rng.randint(1, CITIZENS), stamp, stamp))
        with connection:
            connection.executemany(
                "INSERT INTO ticket (id, number, kind, channel, status, category, description,"
                " citizen_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows)
    connection.execute("ANALYZE")
    connection.close()
    return time.perf_counter() - started


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure_lookup(path: Path, phones: int) -> tuple[list[float], int]:
    """Time ``lookup_caller`` for random known numbers, plus 5 % unknown ones."""
    engine = make_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    rng = random.Random(SEED + 1)
    numbers = [_phone(rng.randint(1, CITIZENS)) if rng.random() > 0.05 else
               f"139{rng.randrange(10**8):08d}" for _ in range(phones)]
    timings = []
    found = 0
    with begin(factory) as session:
        for number in numbers[:50]:   # warm the cache and the statement cache
            lookup_caller(session, number)
        for number in numbers:
            t0 = time.perf_counter()
            info = lookup_caller(session, number)
            timings.append((time.perf_counter() - t0) * 1000)
            found += info.known
    engine.dispose()
    return timings, found


def measure_search(rounds: int) -> tuple[list[float], list[float], int]:
    """Time directory searches over the sample directory's in-memory index."""
    service = DirectoryService()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/directory.db"
        migrate.upgrade(url)
        engine = make_engine(url)
        with begin(make_session_factory(engine)) as session:
            service.import_csv(session, sample_directory_text())
        with begin(make_session_factory(engine)) as session:
            service.refresh(session)
        engine.dispose()
    cold, warm = [], []
    at = dt.datetime.now(dt.UTC)
    for i in range(rounds):
        query = SEARCHES[i % len(SEARCHES)]
        open_now = i % 3 == 0
        # Cold: the index's result cache emptied first, so every search scans and ranks all.
        service.index._cache.clear()
        t0 = time.perf_counter()
        service.search(query, open_now=open_now, at=at)
        cold.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        service.search(query, open_now=open_now, at=at)
        warm.append((time.perf_counter() - t0) * 1000)
    return cold, warm, len(service.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--searches", type=int, default=5000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = _cache_path()
    build_s = None
    if args.rebuild or not path.exists():
        print(f"building {path} ({CITIZENS:,} citizens, {TICKETS:,} tickets)...", flush=True)
        build_s = build(path)
        print(f"built in {build_s:.1f} s", flush=True)
    else:
        print(f"reusing {path}", flush=True)
    lookups, found = measure_lookup(path, args.phones)
    searches, warm, entries = measure_search(args.searches)
    result = {
        "caller_lookup_p50_ms": round(statistics.median(lookups), 3),
        "caller_lookup_p99_ms": round(_percentile(lookups, 0.99), 3),
        "caller_lookup_max_ms": round(max(lookups), 3),
        "directory_search_p50_ms": round(statistics.median(searches), 4),
        "directory_search_p99_ms": round(_percentile(searches, 0.99), 4),
        "directory_search_cached_p99_ms": round(_percentile(warm, 0.99), 4),
        "citizens": CITIZENS, "tickets": TICKETS, "lookups": len(lookups),
        "lookups_known": found, "directory_entries": entries, "searches": len(searches),
        "build_s": round(build_s, 1) if build_s is not None else None,
    }
    print()
    print_table(["measure", "p50 ms", "p99 ms", "goal p99", "n"], [
        ["caller lookup (SQLite, 1M tickets / 200k citizens)",
         f"{result['caller_lookup_p50_ms']:.3f}", f"{result['caller_lookup_p99_ms']:.3f}",
         "< 5 ms", str(len(lookups))],
        [f"directory search ({entries} entries, in memory, uncached)",
         f"{result['directory_search_p50_ms']:.4f}", f"{result['directory_search_p99_ms']:.4f}",
         "< 1 ms", str(len(searches))],
        ["directory search (same query again, result cache)",
         f"{statistics.median(warm):.4f}", f"{result['directory_search_cached_p99_ms']:.4f}",
         "", str(len(warm))],
    ])
    print()
    print_json_line(result)


if __name__ == "__main__":
    main()
