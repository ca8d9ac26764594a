"""Tests for L{hotline.grid.mapfile}: a map file is checked whole and every problem is named."""

from __future__ import annotations

import json

import pytest

from hotline.grid.exceptions import MapRefused
from hotline.grid.mapfile import read_map
from hotline.grid.maps import sample_map_path
from hotline.grid.schemas import AreaLevel
from tests.grid.support import collection, feature, square, tiny_map


def _refused(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(MapRefused) as caught:
        read_map(text)
    return [(p.feature, p.code, p.kind) for p in caught.value.problems]


def test_sample_map_is_the_districts_shape_and_marked_sample() -> None:
    """The shipped map passes every check: 7 streets, 45 communities, 120 grids G001-G120,
    532 sub-grids, and says it is the sample."""
    district = read_map(sample_map_path().read_bytes())
    assert district.counts() == {"street": 7, "community": 45, "grid": 120, "sub_grid": 532}
    assert district.sample is True and "SAMPLE" in district.name
    assert [a.code for a in district.of_level(AreaLevel.GRID)] == \
        [f"G{i:03d}" for i in range(1, 121)]


def test_areas_come_top_down_whatever_the_file_order() -> None:
    """A file listing sub-grids before their grids is read parents first."""
    district = read_map(collection(list(reversed(tiny_map()))))
    levels = [a.level for a in district.areas]
    assert levels == sorted(levels, key=list(AreaLevel).index)
    assert district.sample is False


def test_three_problems_are_all_named() -> None:
    """A self-intersecting polygon, a duplicate code and a sub-grid outside its grid are all
    reported at once, each with its feature, code and kind."""
    features = tiny_map()
    bowtie = {"type": "Polygon", "coordinates": [[[100, 30], [101, 31], [101, 30], [100, 31],
                                                  [100, 30]]]}
    features[3] = feature("grid", "T2", "CM", bowtie)             # self-intersection
    features.append(feature("sub_grid", "T1-01", "T1", square(100, 30, 0.2)))  # duplicate
    features.append(feature("sub_grid", "T1-09", "T1", square(100.8, 30.8, 0.5)))  # outside
    problems = _refused(collection(features))
    assert (3, "T2", "invalid-polygon") in problems
    assert (8, "T1-01", "duplicate-code") in problems
    assert (9, "T1-09", "outside-parent") in problems
    with pytest.raises(MapRefused) as caught:
        read_map(collection(features))
    text = caught.value.message
    assert "Self-intersection" in text and "duplicate code T1-01" in text and \
        "T1-09 is not inside its grid T1" in text


def test_parents_must_exist_one_level_up() -> None:
    """A sub-grid whose parent is missing, or is a community, is refused; a street with a
    parent too."""
    features = tiny_map()
    features.append(feature("sub_grid", "X-01", "NOPE", square(100, 30, 0.1)))
    features.append(feature("sub_grid", "X-02", "CM", square(100, 30, 0.1)))
    bad_street = feature("street", "S9", None, square(100, 30, 0.1))
    bad_street["properties"]["parent"] = "ST"
    features.append(bad_street)
    kinds = {(code, kind) for _, code, kind in _refused(collection(features))}
    assert {("X-01", "unknown-parent"), ("X-02", "wrong-parent-level"),
            ("S9", "unexpected-parent")} <= kinds


def test_overlapping_siblings_are_refused() -> None:
    """Two sub-grids of one grid covering the same ground cannot place a point: refused."""
    features = tiny_map()
    features[5] = feature("sub_grid", "T1-02", "T1", {"type": "Polygon", "coordinates": [[
        [100.25, 30], [101, 30], [101, 31], [100.25, 31], [100.25, 30]]]})
    overlaps = [(code, kind) for _, code, kind in _refused(collection(features))]
    assert overlaps == [("T1-01", "overlap")]


@pytest.mark.parametrize("text, kind", [
    ("not json", "not-json"),
    ('{"type": "Feature"}', "not-feature-collection"),
    ('{"type": "FeatureCollection", "features": []}', "empty"),
])
def test_files_that_are_not_maps(text: str, kind: str) -> None:
    """A file that is not a FeatureCollection is refused with one clear problem."""
    assert [k for *_, k in _refused(text)] == [kind]


def test_bad_features_are_each_named() -> None:
    """Unknown level, missing code or name, a point geometry and projected coordinates are
    refused with one problem each."""
    features = [
        feature("district", "A", None, square(100, 30, 1)),
        {"type": "Feature", "properties": {"level": "street", "name": "x"},
         "geometry": square(100, 30, 1)},
        feature("street", "C", None, {"type": "Point", "coordinates": [100, 30]}),
        feature("street", "D", None, square(500000, 3000000, 100)),
        {"type": "Feature", "properties": {"level": "street", "code": "E", "name": ""},
         "geometry": square(100, 30, 1)},
    ]
    kinds = [(i, k) for i, _, k in _refused(json.dumps({"type": "FeatureCollection",
                                                        "features": features}))]
    assert kinds == [(0, "bad-level"), (1, "bad-code"), (2, "bad-geometry"),
                     (3, "not-lon-lat"), (4, "bad-name")]
