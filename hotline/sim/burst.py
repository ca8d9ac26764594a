# -*- test-case-name: tests.sim.test_burst -*-
"""A burst of citizens calling at once: the load test's traffic, placed through the city simulator.

Calls go in at a steady rate from distinct numbers, so every row in the database can be matched
to the call that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.task import deferLater

from hotline.sim.city import CitizenCall, CitySimulator

__all__ = ["burst_numbers", "place_burst"]


def burst_numbers(count: int, *, prefix: str = "1390") -> list[str]:
    """``count`` distinct mobile numbers, 11 digits, from ``prefix``."""
    width = 11 - len(prefix)
    if count > 10 ** width:
        raise ValueError(f"prefix {prefix!r} leaves room for {10 ** width} numbers, not {count}")
    return [f"{prefix}{i:0{width}d}" for i in range(count)]


async def place_burst(city: CitySimulator, clock: Any, numbers: list[str], *,
                      per_second: float, hold_s: float, tone: str | None = None,
                      on_placed: Callable[[CitizenCall], object] | None = None
                      ) -> list[CitizenCall]:
    """Place one call per number, ``per_second`` of them each second, on ``clock``'s schedule.

    Each call is sent at its own due time (start + i / rate), not after the previous one's
    reply, so a slow reply does not thin out the burst.
    """
    from twisted.internet import defer

    start = clock.seconds()
    placed: list[defer.Deferred[CitizenCall]] = []
    for i, number in enumerate(numbers):
        delay = max(0.0, start + i / per_second - clock.seconds())
        if delay:
            await deferLater(clock, delay, lambda: None)
        d = defer.Deferred.fromCoroutine(city.call(number, tone=tone, hold_s=hold_s))
        if on_placed is not None:
            d.addCallback(lambda call: (on_placed(call), call)[1])
        placed.append(d)
    results = await defer.gatherResults(placed, consumeErrors=True)
    return list(results)
