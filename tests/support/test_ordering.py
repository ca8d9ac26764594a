"""The suite's order under xdist: the longest recorded tests first, the rest as collected."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests.support.ordering import DURATIONS, known_durations, longest_first


def _items(*names: str) -> list:
    return [SimpleNamespace(nodeid=name) for name in names]


def test_known_tests_go_first_longest_first_and_the_rest_keep_their_order():
    """Recorded tests lead by descending duration; unknown ones follow in collection order."""
    items = _items("a", "b", "slow", "c", "slower", "d")
    ordered = longest_first(items, {"slow": 40.0, "slower": 90.0, "gone": 500.0})
    assert [i.nodeid for i in ordered] == ["slower", "slow", "a", "b", "c", "d"]
    assert sorted(ordered, key=id) == sorted(items, key=id)  # nothing lost, nothing added


def test_no_record_means_collection_order(tmp_path):
    """Without a durations file the order is the collection's."""
    assert known_durations(tmp_path / "missing.json") == {}
    items = _items("b", "a")
    assert longest_first(items, {}) == items


def test_the_committed_durations_name_tests_that_exist():
    """Every test in tests/durations.json is a real test of the tree (a renamed one must be
    re-recorded, or it silently loses its place at the front)."""
    recorded = json.loads(DURATIONS.read_text(encoding="utf-8"))
    assert recorded, "tests/durations.json is empty: run make durations"
    root = DURATIONS.parent.parent
    for nodeid in recorded:
        path, _, name = nodeid.partition("::")
        function = name.split("::")[-1].split("[", 1)[0]
        source = (root / path).read_text(encoding="utf-8")
        assert f"def {function}(" in source, f"{nodeid} is in durations.json but not in {path}"
