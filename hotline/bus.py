# -*- test-case-name: tests.test_bus -*-
"""The one listener mechanism of the controller: typed events published to subscribers.

A publisher hands an event object (a frozen dataclass such as
L{hotline.calls.events.CallAnswered}) to L{EventBus.publish}; every subscriber of that event's
class (or of a base class of it) is called at once, in the order it subscribed, on the reactor
thread. A subscriber that raises is logged and harms no other; one that returns a Deferred or a
coroutine has its failure logged the same way (nobody waits for it). This module imports
nothing of the project, so every package may publish or listen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.logger import Logger

__all__ = ["EventBus", "Subscription"]

E = TypeVar("E")

_log = Logger(namespace="hotline.bus")


class Subscription:
    """What L{EventBus.subscribe} returns: C{cancel()} stops the deliveries (twice is harmless)."""

    __slots__ = ("_bus", "_kind", "_handler")

    def __init__(self, bus: EventBus, kind: type, handler: Callable[[Any], object]) -> None:
        self._bus = bus
        self._kind = kind
        self._handler = handler

    def cancel(self) -> None:
        handlers = self._bus._handlers.get(self._kind)
        if handlers and self._handler in handlers:
            handlers.remove(self._handler)
            self._bus._routes.clear()


class EventBus:
    """Delivers each published event to the subscribers of its class and its base classes."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], object]]] = {}
        #: Per concrete event class, the handlers to call (rebuilt after any change).
        self._routes: dict[type, tuple[Callable[[Any], object], ...]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], object]) -> Subscription:
        """Call C{handler(event)} for every event that is an instance of C{kind} from now on."""
        self._handlers.setdefault(kind, []).append(handler)
        self._routes.clear()
        return Subscription(self, kind, handler)

    def subscribe_all(self, table: dict[type, Callable[[Any], object]]) -> list[Subscription]:
        """Subscribe a table of event class → handler (a consumer's one readable list)."""
        return [self.subscribe(kind, handler) for kind, handler in table.items()]

    def listening(self, kind: type) -> bool:
        """Whether anyone listens to C{kind} (a publisher may skip building a costly event)."""
        return bool(self._route(kind))

    def publish(self, event: object) -> None:
        """Hand C{event} to its subscribers now; a failing one is logged and skipped."""
        for handler in self._route(type(event)):
            try:
                result = handler(event)
            except Exception:
                _log.failure("listener {handler!r} failed on {event}", handler=handler,
                             event=type(event).__name__)
                continue
            if result is not None and (isinstance(result, defer.Deferred)
                                       or hasattr(result, "__await__")):
                d = defer.ensureDeferred(result) if not isinstance(result, defer.Deferred) \
                    else result
                d.addErrback(lambda f, h=handler: _log.failure(
                    "listener {handler!r} failed on {event}", f, handler=h,
                    event=type(event).__name__))

    def _route(self, kind: type) -> tuple[Callable[[Any], object], ...]:
        route = self._routes.get(kind)
        if route is None:
            route = tuple(h for base in kind.__mro__ for h in self._handlers.get(base, ()))
            self._routes[kind] = route
        return route
