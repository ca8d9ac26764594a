"""Grid assignment by point-in-polygon over the SAMPLE map's 532 sub-grids (and 120 grids):
ours (hotline.grid.locate: an STRtree of prepared outlines) against the reference, a plain loop
testing every polygon, on the same random points in one run.

    python -m bench.grid [--points 20000] [--reference-points 2000] [--runs 3]

Measured: points placed per second one at a time (what ticket intake does; the goal is
>= 10,000/s), many at once (the vectorised path), one at a time through the database-backed
locator intake uses (it checks the map version on every call), and the reference loop. Both
must give the same answer for every point. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import shapely
from shapely.geometry import shape

from bench._util import median, print_json_line, print_table, spread
from db import migrate
from db.session import begin, make_engine, make_session_factory
from hotline.grid.locate import GridIndex, GridLocator
from hotline.grid.mapfile import read_map
from hotline.grid.maps import import_map, sample_map_path

SEED = 532


def _outlines() -> list[tuple[int, str, int, dict]]:
    district = read_map(sample_map_path().read_bytes())
    return [(i, a.code, 1 if a.level == "grid" else 2, a.geojson())
            for i, a in enumerate(district.areas) if a.level in ("grid", "sub_grid")]


def _points(n: int, outlines: list[tuple[int, str, int, dict]]) -> list[tuple[float, float]]:
    """Random points over the map's box, grown by 5 % so a few fall outside every grid."""
    minx, miny, maxx, maxy = shapely.union_all([shape(g) for *_, g in outlines]).bounds
    dx, dy = (maxx - minx) * 0.05, (maxy - miny) * 0.05
    rng = random.Random(SEED)
    return [(rng.uniform(minx - dx, maxx + dx), rng.uniform(miny - dy, maxy + dy))
            for _ in range(n)]


class PlainLoop:
    """The reference: for each point, test every sub-grid's polygon in turn, then every
    grid's; the first that holds the point wins (what code without an index does)."""

    def __init__(self, outlines: list[tuple[int, str, int, dict]]) -> None:
        rows = sorted(outlines, key=lambda r: -r[2])
        self.polygons = [(code, shape(g)) for _, code, _, g in rows]

    def locate(self, lon: float, lat: float) -> str | None:
        point = shapely.Point(lon, lat)
        for code, polygon in self.polygons:
            if polygon.intersects(point):
                return code
        return None


def _rate(fn, points: list[tuple[float, float]]) -> tuple[float, list]:
    started = time.perf_counter()
    answers = fn(points)
    return len(points) / (time.perf_counter() - started), answers


def _with_database(outlines_points: list[tuple[float, float]]) -> float:
    """Points per second through GridLocator.place on SQLite holding the sample map."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'grid.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with begin(factory) as session:
            import_map(session, read_map(sample_map_path().read_bytes()), actor="bench")
        locator = GridLocator()
        with begin(factory) as session:
            locator.index(session)  # built once, as a running controller has it
            started = time.perf_counter()
            for lon, lat in outlines_points:
                locator.place(session, latitude=lat, longitude=lon)
            rate = len(outlines_points) / (time.perf_counter() - started)
        engine.dispose()
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--reference-points", type=int, default=2_000,
                        help="points for the plain loop (it is slow; the same first points)")
    parser.add_argument("--db-points", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    outlines = _outlines()
    sub_grids = sum(1 for *_, level, _ in outlines if level == 2)
    started = time.perf_counter()
    index = GridIndex(outlines)
    build_ms = (time.perf_counter() - started) * 1000
    reference = PlainLoop(outlines)
    points = _points(args.points, outlines)
    common = points[:args.reference_points]

    def one_by_one(pts):
        return [(p.code if p else None) for p in (index.locate(x, y) for x, y in pts)]

    def at_once(pts):
        return index.locate_many([x for x, _ in pts], [y for _, y in pts])

    def plain(pts):
        return [reference.locate(x, y) for x, y in pts]

    ours, bulk, loop, database = [], [], [], []
    agree = True
    for _ in range(args.runs):
        rate, answers = _rate(one_by_one, points)
        ours.append(rate)
        rate, bulk_answers = _rate(at_once, points)
        bulk.append(rate)
        rate, loop_answers = _rate(plain, common)
        loop.append(rate)
        agree = agree and answers == bulk_answers and answers[:len(common)] == loop_answers
        database.append(_with_database(points[:args.db_points]))
    inside = sum(1 for a in answers if a is not None)
    result = {
        "points_per_s": round(median(ours)), "bulk_points_per_s": round(median(bulk)),
        "db_points_per_s": round(median(database)),
        "reference_points_per_s": round(median(loop)),
        "speedup": round(median(ours) / median(loop), 1),
        "sub_grids": sub_grids, "grids": len(outlines) - sub_grids,
        "points": args.points, "reference_points": len(common), "points_inside": inside,
        "answers_agree": agree, "index_build_ms": round(build_ms, 1), "runs": args.runs,
        "goal_points_per_s": 10_000,
    }
    print(f"{sub_grids} sub-grids + {len(outlines) - sub_grids} grids (SAMPLE map), "
          f"{args.points:,} random points ({inside:,} inside), {args.runs} runs; "
          f"index built in {build_ms:.1f} ms")
    print()
    print_table(["placing", "points/s (median)", "min-max", "points"], [
        ["ours: STRtree, one point at a time", f"{median(ours):,.0f}", spread(ours),
         f"{args.points:,}"],
        ["ours: STRtree, all points at once", f"{median(bulk):,.0f}", spread(bulk),
         f"{args.points:,}"],
        ["ours: GridLocator.place on SQLite (intake path)", f"{median(database):,.0f}",
         spread(database), f"{args.db_points:,}"],
        ["reference: plain loop over all polygons", f"{median(loop):,.0f}", spread(loop),
         f"{len(common):,}"],
    ])
    print(f"\nsame answer for every point: {'yes' if agree else 'NO'}; goal >= 10,000 points/s "
          f"one at a time: {'met' if result['points_per_s'] >= 10_000 else 'NOT met'}")
    print()
    print_json_line(result)


if __name__ == "__main__":
    main()
