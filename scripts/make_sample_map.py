#!/usr/bin/env python3
"""Write the SAMPLE district map (hotline/grid/sample/district-sample.geojson): 7 streets,
45 communities, 120 grids (G001-G120, hotline/sample.py's codes) and 532 sub-grids (G001-01 ...).

Synthetic geometry, not a real place: a box cut into slanted strips, level by level, so every
area lies inside its parent and siblings share their edges. Deterministic (fixed seed); run it
again only to change the sample. A site replaces it with `hotline grid import` of its own map.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "hotline" / "grid" / "sample" / \
    "district-sample.geojson"
#: The sample's box (longitude, latitude): about 11 km by 10 km.
WEST, SOUTH, EAST, NORTH = 120.0, 30.2, 120.12, 30.29
STREETS = 7
COMMUNITIES = [7, 6, 7, 6, 7, 6, 6]                  # 45
GRIDS_PER_COMMUNITY = [3] * 30 + [2] * 15            # 120
SUB_GRIDS_PER_GRID = [5] * 52 + [4] * 68             # 532
_DIGITS = 7

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # south-west, south-east, north-east, north-west


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (round(a[0] + (b[0] - a[0]) * t, _DIGITS), round(a[1] + (b[1] - a[1]) * t, _DIGITS))


def _length(a: Point, b: Point) -> float:
    # Metres-ish: a degree of longitude is shorter than one of latitude at 30°N.
    return (((b[0] - a[0]) * 0.866) ** 2 + (b[1] - a[1]) ** 2) ** 0.5


def split(quad: Quad, n: int, rng: random.Random) -> list[Quad]:
    """``quad`` cut into ``n`` strips across its longer side, the cuts a little slanted."""
    sw, se, ne, nw = quad
    if n == 1:
        return [quad]
    across_x = _length(sw, se) + _length(nw, ne) >= _length(sw, nw) + _length(se, ne)
    cuts = []
    for k in range(1, n):
        t = k / n + rng.uniform(-0.25, 0.25) / n
        slant = rng.uniform(-0.2, 0.2) / n
        cuts.append((t - slant, t + slant))
    parts: list[Quad] = []
    prev = (0.0, 0.0)
    for cut in [*cuts, (1.0, 1.0)]:
        if across_x:  # vertical-ish cuts between the south and the north edge
            a0, a1 = _lerp(sw, se, prev[0]), _lerp(sw, se, cut[0])
            b0, b1 = _lerp(nw, ne, prev[1]), _lerp(nw, ne, cut[1])
            parts.append((a0, a1, b1, b0))
        else:  # horizontal-ish cuts between the west and the east edge
            a0, a1 = _lerp(sw, nw, prev[0]), _lerp(sw, nw, cut[0])
            b0, b1 = _lerp(se, ne, prev[1]), _lerp(se, ne, cut[1])
            parts.append((a0, b0, b1, a1))
        prev = cut
    return parts


def _feature(level: str, code: str, name: str, parent: str | None, quad: Quad) -> dict:
    ring = [list(p) for p in quad] + [list(quad[0])]
    props = {"level": level, "code": code, "name": name}
    if parent:
        props["parent"] = parent
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def build() -> dict:
    rng = random.Random(20)
    features = []
    district: Quad = ((WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH))
    community_no = grid_no = 0
    for s, street in enumerate(split(district, STREETS, rng), start=1):
        street_code = f"S{s:02d}"
        features.append(_feature("street", street_code, f"示例第{s}街道", None, street))
        for community in split(street, COMMUNITIES[s - 1], rng):
            community_no += 1
            community_code = f"C{community_no:02d}"
            features.append(_feature("community", community_code, f"示例第{community_no}社区",
                                     street_code, community))
            for grid in split(community, GRIDS_PER_COMMUNITY[community_no - 1], rng):
                grid_no += 1
                grid_code = f"G{grid_no:03d}"
                features.append(_feature("grid", grid_code, f"第{grid_no}网格", community_code,
                                         grid))
                for j, sub in enumerate(split(grid, SUB_GRIDS_PER_GRID[grid_no - 1], rng), 1):
                    features.append(_feature("sub_grid", f"{grid_code}-{j:02d}",
                                             f"第{grid_no}网格{j}号子网格", grid_code, sub))
    return {"type": "FeatureCollection",
            "name": "示例区划（SAMPLE：合成数据，非真实地图）7 街道 / 45 社区 / 120 网格 / 532 子网格",
            "sample": True, "features": features}


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = build()
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    print(f"{OUT}: {len(data['features'])} features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
