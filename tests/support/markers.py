"""The ``pbx``, ``postgres`` and ``browser`` markers say what a test needs, and are kept true.

A test is marked from what it uses: ``pbx`` when its fixtures include a PBX sandbox
(``pbx_sandbox``, directly or through ``controller``, ``city``, ...), ``postgres`` when it runs on
PostgreSQL (``db_url``/``empty_db_url`` parametrised to it, or ``postgres_server``), ``browser``
when it uses the worker's Chromium. Tests that start one of these themselves carry the mark in
their module. Starting a sandbox, a PostgreSQL cluster or Chromium from a test without the
matching mark fails that test at once, so ``-m "not pbx and not browser and not postgres"``
(``make check``) never starts any of them.
"""

from __future__ import annotations

import pytest

__all__ = ["require"]

#: A fixture in a test's closure → the marker it implies.
FIXTURE_MARKS = {"pbx_sandbox": "pbx", "postgres_server": "postgres", "chromium": "browser"}
#: Parameters that put a test on PostgreSQL.
POSTGRES_PARAMS = ("db_url", "empty_db_url")

_current: list[pytest.Item | None] = [None]


def require(marker: str, what: str) -> None:
    """Fail the running test unless it is marked ``marker`` (it is about to start ``what``)."""
    item = _current[0]
    if item is not None and item.get_closest_marker(marker) is None:
        pytest.fail(f"{item.nodeid} starts {what} but is not marked {marker!r}: mark it "
                    f"(pytest.mark.{marker}) so that -m 'not {marker}' leaves it out",
                    pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKS.items():
            if fixture in names:
                item.add_marker(marker)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(params.get(name) == "postgresql" for name in POSTGRES_PARAMS):
            item.add_marker("postgres")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _current[0] = item


@pytest.fixture(scope="session", autouse=True)
def _sandbox_starts_are_marked():
    """Every sandbox a test starts, through a fixture or by hand, goes through this check."""
    from hotline.pbx.sandbox import Sandbox

    original = Sandbox.start

    def start(self, *args, **kwargs):
        require("pbx", "a PBX sandbox")
        return original(self, *args, **kwargs)
    Sandbox.start = start  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sandbox.start = original  # type: ignore[method-assign]
