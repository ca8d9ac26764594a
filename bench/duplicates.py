# -*- test-case-name: tests.tickets.test_duplicates -*-
"""Possible duplicates for one intake at 1,000,000 tickets, on SQLite and on PostgreSQL, beside a
plain LIKE scan giving the same candidates.

    python -m bench.duplicates [--tickets 1000000] [--rebuild] [--runs 300] [--skip-postgres]

Data (sample, generated with a fixed seed): 600 grids, 12 categories, 200,000 citizens and
``--tickets`` tickets over two years (about 1,370 a day at 1,000,000), 8 % of them open; their
content is Chinese made from street names, places and problems, so character bigrams behave
as in real complaints. One ticket in fifty belongs to a burst: a problem reported 5 to 30 times
in one grid within a few hours (the burst pipe on 胜利路 reported eleven times a morning).
Cached as a SQLite file under $XDG_CACHE_HOME/hotline/bench (``--rebuild`` makes it again);
PostgreSQL: a throw-away cluster, rows copied with COPY.

One intake is what ``POST /api/tickets/duplicates`` does: ``TicketService.duplicates`` in one
session, with a grid, a category, a content and the caller's phone (candidates of the same grid
and category within 7 days, ranked; the caller's own open tickets). Half the intakes repeat a
burst's problem in its grid at its time, half are new problems at random. Timed ``--runs``
times after a warm-up: p50 and p99. Goal: p99 < 30 ms on each back end. The reference finds
the open tickets of the same 7 days whose content shares a bigram with the intake by
``description LIKE '%bigram%'`` (no index can serve a leading wildcard), then keeps the grid
and category and ranks in Python: its candidates must be ours. ``burst_found`` is the share of
burst intakes whose first candidate is one of the burst's reports. The last line
printed is JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bench._util import print_json_line, print_table
from bench.report import fresh_sqlite, insert_rows, load_postgres, start_postgres
from db import migrate
from db.models import Citizen, Grid, Ticket
from db.session import make_engine, make_session_factory
from hotline.tickets.duplicates import ADDRESS_WEIGHT, DuplicateQuery, grams, similarity
from hotline.tickets.schemas import OPEN_STATUSES
from hotline.tickets.service import TicketService

SEED = 18
DATA_VERSION = 1
GRIDS = 600
CITIZENS = 200_000
SPAN_DAYS = 730
OPEN_SHARE = 0.08
BURST_SHARE = 0.02
DAYS = 7.0
LIMIT = 10
NOW = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)
CATEGORIES = ["供水", "排水", "供电", "燃气", "噪声", "物业", "道路", "绿化", "环卫", "交通",
              "市场监管", "违章建筑"]
STREETS = ["胜利路", "解放街", "人民路", "中山路", "和平街", "建设路", "幸福路", "光明街",
           "友谊路", "新华街", "长江路", "黄河路", "东风街", "青年路", "朝阳街", "民主路"]
PLACES = ["小区门口", "路口", "公交站旁", "菜市场", "学校附近", "十字路口", "楼下", "地下车库",
          "广场", "医院对面", "超市后面", "桥下"]
PROBLEMS = {
    "供水": ["自来水管爆裂，路面大量积水", "停水两天没有通知", "水压太低，楼上没水", "水质发黄有异味"],
    "排水": ["下水道堵塞污水外溢", "雨后积水严重无法通行", "井盖缺失很危险", "化粪池满溢臭气熏天"],
    "供电": ["整栋楼停电", "路灯不亮晚上很黑", "电线裸露有安全隐患", "频繁跳闸"],
    "燃气": ["闻到燃气泄漏的味道", "燃气表不走字", "燃气管道老化", "燃气停供没有通知"],
    "噪声": ["夜间施工噪声扰民", "广场舞音响太大", "商铺喇叭噪声", "装修噪音中午不停"],
    "物业": ["电梯经常坏", "物业不作为乱收费", "楼道灯坏了没人修", "小区垃圾无人清理"],
    "道路": ["路面塌陷出现大坑", "人行道砖松动", "道路施工围挡占道", "减速带损坏"],
    "绿化": ["树木倒伏压住车辆", "绿化带被毁", "树枝遮挡信号灯", "草坪长期无人修剪"],
    "环卫": ["垃圾桶满溢无人清运", "街道卫生差", "公厕脏乱无人打扫", "建筑垃圾乱倒"],
    "交通": ["信号灯故障", "车辆乱停乱放堵路", "公交车不按站停", "路口拥堵严重"],
    "市场监管": ["商家缺斤少两", "食品过期还在卖", "价格欺诈", "无证经营"],
    "违章建筑": ["楼顶私搭乱建", "占用绿地建房", "违建阳光房", "私自改变房屋结构"],
}
KINDS = ["complaint", "help", "consultation", "suggestion"]
_FMT = "%Y-%m-%d %H:%M:%S.%f"
TABLES: dict[str, list[str]] = {
    "grid": ["id", "code", "name", "level"],
    "citizen": ["id", "phone", "name", "created_at"],
    "ticket": ["id", "number", "kind", "channel", "status", "category", "grid_id", "address",
               "description", "citizen_id", "created_at", "updated_at", "version",
               "reopen_count", "needs_completion"],
}
_OPEN = sorted(str(s) for s in OPEN_STATUSES)
_FINISHED = ["closed"] * 12 + ["replied", "followed_up", "merged"]


def _cache_path(tickets: int) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "bench" / (
        f"duplicates-{migrate.schema_fingerprint()}-{DATA_VERSION}-{tickets}.db")


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).strftime(_FMT)


def _content(rng: random.Random, category: str, street: str | None = None,
             problem: str | None = None) -> tuple[str, str]:
    """An address and a content in a citizen's words."""
    street = street or rng.choice(STREETS)
    address = f"{street}{rng.randint(1, 300)}号"
    problem = problem or rng.choice(PROBLEMS[category])
    text = f"{street}{rng.choice(PLACES)}{problem}" + rng.choice(
        ["，请尽快处理", "，希望有关部门管一管", "，已经好几天了", "", "，影响出行"])
    return address, text


def build(path: Path, tickets: int) -> float:
    """Make the SQLite file; seconds taken."""
    started = time.perf_counter()
    con = fresh_sqlite(path)
    rng = random.Random(SEED)
    start = NOW - dt.timedelta(days=SPAN_DAYS)
    with con:
        insert_rows(con, "grid", TABLES["grid"],
                    ((i, f"G{i:04d}", f"第{i}网格", 1) for i in range(1, GRIDS + 1)))
        insert_rows(con, "citizen", TABLES["citizen"],
                    ((i, f"13{i:09d}", None, _ts(start)) for i in range(1, CITIZENS + 1)))

    def rows() -> Any:
        i = 0
        while i < tickets:
            created = NOW - dt.timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
            category = rng.choice(CATEGORIES)
            grid = rng.randint(1, GRIDS)
            recent = (NOW - created).days < 30
            if rng.random() < BURST_SHARE / 15:  # a burst: ~15 reports on average
                street, problem = rng.choice(STREETS), rng.choice(PROBLEMS[category])
                for k in range(min(rng.randint(5, 30), tickets - i)):
                    i += 1
                    at = min(NOW, created + dt.timedelta(minutes=k * rng.uniform(3, 20)))
                    address, text = _content(rng, category, street, problem)
                    status = rng.choice(_OPEN) if recent else rng.choice(_FINISHED)
                    yield _row(rng, i, status, category, grid, address, text, at)
                continue
            i += 1
            address, text = _content(rng, category)
            status = rng.choice(_OPEN) if rng.random() < OPEN_SHARE else rng.choice(_FINISHED)
            yield _row(rng, i, status, category, grid, address, text, created)

    with con:
        insert_rows(con, "ticket", TABLES["ticket"], rows())
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - started


def _row(rng: random.Random, i: int, status: str, category: str, grid: int, address: str,
         text: str, at: dt.datetime) -> tuple[Any, ...]:
    return (i, f"RX{i:010d}", rng.choice(KINDS), "hotline", status, category, grid, address,
            text, rng.randint(1, CITIZENS), _ts(at), _ts(at), 1, 0, 0)


def _bursts_from(path: Path) -> list[dict[str, Any]]:
    """The recent open bursts of a cached file: runs of consecutive ids of one grid, category
    and street within hours (what ``build`` made)."""
    import sqlite3

    con = sqlite3.connect(path)
    since = _ts(NOW - dt.timedelta(days=30))
    rows = con.execute("SELECT id, grid_id, category, description, created_at FROM ticket "
                       "WHERE created_at >= ? ORDER BY id", (since,)).fetchall()
    con.close()
    bursts, run = [], []
    for row in rows:
        if run and row[0] == run[-1][0] + 1 and row[1] == run[-1][1] and row[2] == run[-1][2]:
            run.append(row)
            continue
        if len(run) >= 5:
            bursts.append(run)
        run = [row]
    if len(run) >= 5:
        bursts.append(run)
    out = []
    for run in bursts:
        street = next(s for s in STREETS if run[0][3].startswith(s))
        problem = next(p for p in PROBLEMS[run[0][2]] if p in run[0][3])
        out.append({"grid": run[0][1], "category": run[0][2], "street": street,
                    "problem": problem, "ids": [r[0] for r in run],
                    "at": dt.datetime.strptime(run[-1][4], _FMT).replace(tzinfo=dt.UTC)})
    return out


# -- measuring -------------------------------------------------------------------------------------

def intakes(bursts: list[dict[str, Any]], runs: int) -> list[dict[str, Any]]:
    """``runs`` intakes: even ones repeat a burst in its grid an hour after its last report,
    odd ones are a new problem anywhere."""
    rng = random.Random(SEED + 1)
    out = []
    for n in range(runs):
        if n % 2 == 0 and bursts:
            b = rng.choice(bursts)
            address, text = _content(rng, b["category"], b["street"], b["problem"])
            out.append({"query": DuplicateQuery(category=b["category"], grid=f"G{b['grid']:04d}",
                                                address=address, description=text,
                                                phone=f"13{rng.randint(1, CITIZENS):09d}"),
                        "now": b["at"] + dt.timedelta(hours=1), "burst": b["ids"]})
        else:
            category = rng.choice(CATEGORIES)
            address, text = _content(rng, category)
            out.append({"query": DuplicateQuery(category=category,
                                                grid=f"G{rng.randint(1, GRIDS):04d}",
                                                address=address, description=text,
                                                phone=f"13{rng.randint(1, CITIZENS):09d}"),
                        "now": NOW, "burst": None})
    return out


def ours(session: Session, intake: dict[str, Any]) -> list[int]:
    """The candidates sharing some content (the reference cannot see the others)."""
    service = TicketService(clock=lambda: intake["now"])
    found = service.duplicates(session, intake["query"], days=DAYS, limit=LIMIT)
    return [c.id for c in found.candidates if c.score > 0]


def like_scan(session: Session, intake: dict[str, Any]) -> list[int]:
    """The reference: LIKE over the window's open tickets, then grid, category and ranking."""
    q: DuplicateQuery = intake["query"]
    wanted = grams(q.description)
    since = intake["now"] - dt.timedelta(days=DAYS)
    rows = session.execute(
        select(Ticket.id, Ticket.grid_id, Ticket.category, Ticket.address, Ticket.description,
               Ticket.created_at)
        .where(Ticket.status.in_(_OPEN), Ticket.created_at >= since,
               or_(*[Ticket.description.like(f"%{g}%") for g in sorted(wanted)]))).all()
    grid_id = session.scalar(select(Grid.id).where(Grid.code == q.grid))
    address = "".join((q.address or "").split()).lower()
    scored = []
    for r in rows:
        if r.grid_id != grid_id or r.category != q.category:
            continue
        score = (1 - ADDRESS_WEIGHT) * similarity(wanted, grams(r.description))
        if address and "".join((r.address or "").split()).lower() == address:
            score += ADDRESS_WEIGHT
        scored.append((score, r.created_at, r.id))
    scored = [s for s in scored if s[0] > 0]
    scored.sort(reverse=True)
    # The caller's own open tickets, as ours reads them (by the citizen's phone).
    session.scalar(select(Citizen.id).where(Citizen.phone == q.phone))
    return [i for _, _, i in scored[:LIMIT]]


def timed(factory: Any, fn: Any, cases: list[dict[str, Any]]) -> tuple[list[float], list[Any]]:
    samples, results = [], []
    with factory() as session:
        fn(session, cases[0])  # warm-up: statement caches, pages
        for case in cases:
            t0 = time.perf_counter()
            results.append(fn(session, case))
            samples.append((time.perf_counter() - t0) * 1000)
    return samples, results


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run_backend(url: str, cases: list[dict[str, Any]], like_runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        ours_ms, found = timed(factory, ours, cases)
        like_ms, like_found = timed(factory, like_scan, cases[:like_runs])
    finally:
        engine.dispose()
    bursts = [(c, f) for c, f in zip(cases, found, strict=True) if c["burst"]]
    # A burst intake found its burst when the first candidate shown is one of its reports.
    hit = sum(1 for c, f in bursts if f and f[0] in c["burst"])
    return {"p50_ms": statistics.median(ours_ms), "p99_ms": p99(ours_ms),
            "like_p50_ms": statistics.median(like_ms), "like_p99_ms": p99(like_ms),
            "same": all(a == b for a, b in zip(found, like_found, strict=False)),
            "burst_found": hit / len(bursts) if bursts else None,
            "mean_candidates": statistics.mean(len(f) for f in found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="generate the data again")
    parser.add_argument("--runs", type=int, default=300, help="timed intakes per back end")
    parser.add_argument("--like-runs", type=int, default=60, help="timed runs of the reference")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    path = _cache_path(args.tickets)
    build_s = None
    if args.rebuild or not path.exists():
        print(f"building {path} ({args.tickets:,} tickets)...", flush=True)
        build_s = build(path, args.tickets)
        print(f"built in {build_s:.1f} s", flush=True)
    else:
        print(f"reusing {path}", flush=True)
    bursts = _bursts_from(path)
    cases = intakes(bursts, args.runs)
    results = {"sqlite": run_backend(f"sqlite:///{path}", cases, args.like_runs)}
    load_s = None
    if not args.skip_postgres:
        server, base = start_postgres()
        try:
            url = server.url("hotline_bench")
            print("loading PostgreSQL with COPY...", flush=True)
            load_s = load_postgres(url, path, TABLES)
            print(f"loaded in {load_s:.1f} s", flush=True)
            results["postgresql"] = run_backend(url, cases, args.like_runs)
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
    rows = [[backend, f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
             "yes" if r["p99_ms"] < 30 else "NO", f"{r['like_p50_ms']:.1f}",
             f"{r['like_p99_ms']:.1f}", f"{r['like_p50_ms'] / r['p50_ms']:.0f}x",
             "same" if r["same"] else "DIFFERENT",
             f"{r['burst_found']:.0%}" if r["burst_found"] is not None else "-",
             f"{r['mean_candidates']:.1f}"] for backend, r in results.items()]
    print()
    print_table(["backend", "ours p50 ms", "ours p99 ms", "< 30 ms", "LIKE p50 ms",
                 "LIKE p99 ms", "LIKE/ours", "reference", "burst found", "candidates"], rows)
    print()
    load = os.getloadavg()
    print(f"{args.tickets:,} tickets, {len(bursts)} recent bursts, {args.runs} intakes; machine "
          f"load {load[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    result: dict[str, Any] = {"tickets": args.tickets, "runs": args.runs,
                              "bursts": len(bursts), "loadavg_1m": round(load[0], 1),
                              "build_s": round(build_s, 1) if build_s else None,
                              "postgres_load_s": round(load_s, 1) if load_s else None}
    for backend, r in results.items():
        result[f"duplicates_p50_ms_{backend}"] = round(r["p50_ms"], 2)
        result[f"duplicates_p99_ms_{backend}"] = round(r["p99_ms"], 2)
        result[f"like_p50_ms_{backend}"] = round(r["like_p50_ms"], 2)
        result[f"like_p99_ms_{backend}"] = round(r["like_p99_ms"], 2)
        result[f"reference_agrees_{backend}"] = r["same"]
        result[f"burst_found_{backend}"] = r["burst_found"]
    print_json_line(result)


if __name__ == "__main__":
    main()
