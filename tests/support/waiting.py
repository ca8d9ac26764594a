"""Waiting on the real reactor for something a real peer will do, without blocking it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet import reactor
from twisted.internet.task import deferLater

T = TypeVar("T")


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def until(condition: Callable[[], T], timeout: float = 20.0, step: float = 0.05) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout``."""
    waited = 0.0
    while True:
        value = condition()
        if value:
            return value
        if waited >= timeout:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        await sleep(step)
        waited += step
