# -*- test-case-name: tests.support.test_ordering -*-
"""The longest tests start first, so that the workers finish together.

xdist hands tests to its workers in collection order, and the longest ones (the API's property
run, the two-node cluster, the empty-state sweeps of every command, the fault bursts) sit late
in it: each then ran alone at the end of the suite while the other workers had nothing left,
a minute and more of tail on a ten-minute suite. Under xdist the collection is sorted by the
durations of an earlier run, longest first (the "longest processing time first" rule of
scheduling); tests it does not know keep their order after them. Nothing is left out or
changed: only the order.

``tests/durations.json`` holds each known test's seconds (setup, call and teardown) from a
recorded run, only those long enough to matter. ``pytest --record-durations`` (``make
durations``) rewrites it from the run it finishes; a moved or renamed test simply loses its
place until then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

#: The committed durations, relative to the repository.
DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"
#: Tests shorter than this are not recorded: their order hardly moves the end of the run.
RECORD_FROM_S = 2.0

_seconds: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true", default=False,
                     help=f"write the tests' durations to {DURATIONS.name} at the end of the run "
                          "(the order the next runs start their tests in)")


def known_durations(path: Path = DURATIONS) -> dict[str, float]:
    """The recorded seconds by node id; empty when nothing was recorded yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in data.items()}


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """Known tests by descending duration, then the others in their collection order."""
    known = sorted((i for i in items if i.nodeid in seconds), key=lambda i: -seconds[i.nodeid])
    return known + [i for i in items if i.nodeid not in seconds]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only when the tests are spread over workers: in one process, keeping a module's tests
    # together keeps its module-scoped fixtures set up once.
    if config.getoption("numprocesses", None) or hasattr(config, "workerinput"):
        items[:] = longest_first(items, known_durations())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not config.getoption("record_durations") or hasattr(config, "workerinput"):
        return
    kept = {nodeid: round(s, 1) for nodeid, s in sorted(_seconds.items()) if s >= RECORD_FROM_S}
    DURATIONS.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
