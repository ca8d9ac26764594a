# -*- test-case-name: tests.agi.test_routes -*-
"""The registry that maps an C{agi_network_script} name to the script that serves it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from hotline.agi.channel import AGIChannel

__all__ = ["AGIScript", "DuplicateRouteError", "Route", "RouteTable"]

#: Every script has this one signature: it gets the call's channel (whose C{request} carries the
#: variables, query and arguments) and is awaited to its end. Collaborators (database, services)
#: are bound when the script is registered, never looked up globally.
AGIScript = Callable[["AGIChannel"], Awaitable[None]]
_S = TypeVar("_S", bound=AGIScript)


class DuplicateRouteError(ValueError):
    """A script name was registered twice; the second would silently shadow the first."""

    error_id = "agi-duplicate-route"


@dataclass(frozen=True, slots=True)
class Route:
    """One registered script.

    @ivar name: the C{agi_network_script} path it answers, without leading slash or query.
    @ivar script: the C{async def} run per session.
    @ivar setup: called by L{RouteTable.run_setup} at start-up and on reload, or C{None}.
    @ivar timeout: seconds this script may run, or C{None} for the server's limit
        (C{agi.script_timeout_s}); a dialogue with the caller (the status line) needs minutes.
    """

    name: str
    script: AGIScript
    setup: Callable[[], object] | None = None
    timeout: float | None = None


class RouteTable:
    """Script names to scripts, filled explicitly at start-up (no package scanning).

    Usage::

        routes = RouteTable()

        @routes.register("inbound")
        async def inbound(channel: AGIChannel) -> None: ...

        routes.add("survey", survey, setup=load_prompts)
    """

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    @staticmethod
    def _normalise(name: str) -> str:
        key = name.strip().strip("/")
        if not key or "?" in key:
            raise ValueError(f"invalid AGI script name {name!r}")
        return key

    def add(self, name: str, script: AGIScript, *,
            setup: Callable[[], object] | None = None, timeout: float | None = None) -> Route:
        """Register C{script} under C{name}.

        @raise DuplicateRouteError: C{name} is already taken.
        @raise ValueError: C{name} is empty or carries a query string.
        """
        key = self._normalise(name)
        existing = self._routes.get(key)
        if existing is not None:
            raise DuplicateRouteError(
                f"AGI script {key!r} is already registered to "
                f"{getattr(existing.script, '__qualname__', existing.script)!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"AGI script {key!r}: timeout must be positive, not {timeout!r}")
        route = Route(name=key, script=script, setup=setup, timeout=timeout)
        self._routes[key] = route
        return route

    def register(self, name: str, *, setup: Callable[[], object] | None = None,
                 timeout: float | None = None) -> Callable[[_S], _S]:
        """Decorator form of L{add}; returns the script unchanged so it stays testable."""

        def decorate(script: _S) -> _S:
            self.add(name, script, setup=setup, timeout=timeout)
            return script

        return decorate

    def lookup(self, name: str) -> Route | None:
        """The route for a script path as the dialplan sent it (leading slash ignored)."""
        route = self._routes.get(name)
        if route is None:
            route = self._routes.get(name.strip().strip("/"))
        return route

    def run_setup(self) -> None:
        """Run every route's setup hook, in registration order (start-up and reload)."""
        for route in self._routes.values():
            if route.setup is not None:
                route.setup()

    def names(self) -> list[str]:
        """Registered script names, in registration order."""
        return list(self._routes)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def __iter__(self) -> Iterator[Route]:
        return iter(list(self._routes.values()))

    def __len__(self) -> int:
        return len(self._routes)
