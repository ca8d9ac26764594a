"""Small maps for the grid tests, built as GeoJSON text: squares in longitude/latitude."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["square", "feature", "collection", "tiny_map", "SUB_POINT"]


def square(x0: float, y0: float, size: float) -> dict[str, Any]:
    """A GeoJSON polygon: the square with its south-west corner at (x0, y0)."""
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(level: str, code: str, parent: str | None, geometry: dict[str, Any],
            name: str | None = None) -> dict[str, Any]:
    props = {"level": level, "code": code, "name": name or f"{level} {code}"}
    if parent:
        props["parent"] = parent
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(features: list[dict[str, Any]], **members: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "name": "test map", **members,
                       "features": features}, ensure_ascii=False)


def tiny_map() -> list[dict[str, Any]]:
    """One street, one community, two grids side by side, each split into two sub-grids:
    T1 [0,1]x[0,1] holds T1-01 (west half) and T1-02 (east half); T2 is [1,2]x[0,1]."""
    def rect(x0: float, x1: float) -> dict[str, Any]:
        ring = [[x0, 0], [x1, 0], [x1, 1], [x0, 1], [x0, 0]]
        return {"type": "Polygon", "coordinates": [ring]}
    base = 100.0
    shift = lambda g: {"type": "Polygon", "coordinates": [[[x + base, y + 30] for x, y in  # noqa: E731
                                                           g["coordinates"][0]]]}
    return [feature("street", "ST", None, shift(rect(0, 2))),
            feature("community", "CM", "ST", shift(rect(0, 2))),
            feature("grid", "T1", "CM", shift(rect(0, 1))),
            feature("grid", "T2", "CM", shift(rect(1, 2))),
            feature("sub_grid", "T1-01", "T1", shift(rect(0, 0.5))),
            feature("sub_grid", "T1-02", "T1", shift(rect(0.5, 1))),
            feature("sub_grid", "T2-01", "T2", shift(rect(1, 1.5))),
            feature("sub_grid", "T2-02", "T2", shift(rect(1.5, 2)))]


#: A point (latitude, longitude) inside T1-02.
SUB_POINT = (30.5, 100.75)
