"""Every test has a time limit, and a test waiting on the reactor fails at it with the line it
was waiting on, not at CI's limit.

pytest-timeout (``timeout`` in setup.cfg) limits every test. Its signal cannot stop a test that
waits on the reactor, though: the reactor's main loop swallows the exception and goes on
waiting. So a coroutine test (``pytest_twisted.ensureDeferred``) is cancelled on the reactor
``_MARGIN_S`` before that limit: ``CancelledError`` is raised at the ``await`` that never
completed, the test fails with that line in its report, and its fixtures are torn down as after
any failure. pytest-timeout's own method (``thread``: all stacks dumped, the worker ended) is the
backstop for a test that blocks the whole process or hangs in a fixture; what such a worker left
running is ended by ``tests.support.pbx``'s end-of-run sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from twisted.internet import defer, reactor
from twisted.python.failure import Failure

__all__ = ["TestTimedOut", "limited"]

#: Time left between the reactor-side cancel and pytest-timeout's hard stop: teardown's share.
_MARGIN_S = 60.0


class TestTimedOut(Exception):
    """A coroutine test did not finish within its time limit."""

    __test__ = False  # not a test class, whatever pytest's collector thinks of the name


def _await_chain(coro: Any) -> str:
    """Where a suspended coroutine waits: each frame of its ``await`` chain, outermost first."""
    lines, obj = [], coro
    while obj is not None:
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is not None:
            lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    return "\n".join(lines) or "  (no frame: the coroutine was not suspended)"


def limited(test: Callable[..., Coroutine[Any, Any, Any]], seconds: float,
            name: str) -> Callable[..., defer.Deferred[Any]]:
    """``test`` run as a Deferred that is cancelled after ``seconds`` of real time, failing with
    ``TestTimedOut`` that says where it waited."""

    @functools.wraps(test)
    def run(**kwargs: Any) -> defer.Deferred[Any]:
        coro = test(**kwargs)
        d = defer.Deferred.fromCoroutine(coro)
        where: list[str] = []

        def expire() -> None:
            where.append(_await_chain(coro))
            d.cancel()
        timer = reactor.callLater(seconds, expire)

        def settle(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            if where and isinstance(result, Failure) \
                    and result.check(defer.CancelledError):
                raise TestTimedOut(f"{name} did not finish within {seconds:g} s; it was "
                                   f"waiting at:\n{where[0]}") from result.value
            return result
        return d.addBoth(settle)
    run._pytest_twisted_mark = "async_test"  # type: ignore[attr-defined]
    return run


def _limit_of(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    value = item.config.getini("timeout")
    return float(value) if value else None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    test = pyfuncitem.obj
    limit = _limit_of(pyfuncitem)
    if getattr(test, "_pytest_twisted_mark", None) != "async_test" or not limit:
        yield
        return
    pyfuncitem.obj = limited(test, max(limit - _MARGIN_S, limit / 2), pyfuncitem.nodeid)
    try:
        yield
    finally:
        pyfuncitem.obj = test
