"""Waiting on the real reactor for something a real peer will do, without blocking it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from twisted.internet import reactor
from twisted.internet.task import deferLater

T = TypeVar("T")


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def until(condition: Callable[[], T], timeout: float = 20.0, step: float = 0.05) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout``
    seconds of real time.

    The deadline is read from a monotonic clock, not summed from ``step``s: a condition that
    takes long to evaluate (a database query on a busy machine) must not stretch the wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        await sleep(step)


async def until_true(condition: Callable[[], Awaitable[object]], timeout: float = 20.0,
                     step: float = 0.05) -> None:
    """``until`` for a condition that must itself wait (an AMI query, say)."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        await sleep(step)
