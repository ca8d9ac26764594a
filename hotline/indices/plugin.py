# -*- test-case-name: tests.indices.test_http -*-
"""Wire what the district leader reads: the refresh job (fold the day's events into the
aggregate, scan for early warnings, push new ones to the supervisors' and leaders' pages),
the warning stream, and the pages and API calls of L{hotline.indices.http}."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from twisted.internet import task
from twisted.logger import Logger

from hotline.indices import http
from hotline.indices.service import refresh
from hotline.tickets.notifier import TicketStream
from hotline.web.events import StreamClient

if TYPE_CHECKING:
    from hotline.dependencies import Dependencies

__all__ = ["IndicesPlugin", "WarningStream", "load"]

_log = Logger(namespace="hotline.indices")


class WarningStream(TicketStream):
    """The open ``/api/warnings/stream`` pages (supervisors and leaders: the route's roles);
    ``warning`` events carry a warning as ``GET /api/warnings`` lists it."""

    def warning(self, view: dict[str, Any]) -> None:
        # The ticket streams' listeners pass on only their own events: a warning is written
        # through the plain stream client underneath.
        for listener in list(self.listeners):
            try:
                StreamClient.send(listener, "warning", view)
            except Exception:  # noqa: BLE001 - one broken stream must not stop the rest
                _log.failure("warning stream: cannot write to a listener")
                listener.open = False


class IndicesPlugin:
    """The leader's parts on one console: settings, templates, the stream and the job."""

    def __init__(self, *, deps: Dependencies) -> None:
        self.db = deps.db
        self.reactor = deps.reactor
        self.timezone = deps.config["site"]["timezone"]
        self.satisfied_min_score = int(deps.config["reports"]["satisfied_min_score"])
        # Only a controller (linked to its PBX) keeps the aggregate fresh on a timer; a console
        # served alone (tests, a reports node) folds when asked (API, command line).
        self.refresh_s = float(deps.config["indices"]["refresh_s"]) if deps.ami is not None \
            else 0.0
        self.tickets = deps.tickets
        self.stream = WarningStream(deps.reactor)
        self.templates = Environment(
            loader=ChoiceLoader([PackageLoader("hotline.indices", "templates"),
                                 PackageLoader("hotline.web", "templates")]),
            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self._loop: task.LoopingCall | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.reactor.seconds(), dt.UTC)

    async def refresh_now(self) -> dict[str, Any]:
        """Fold and scan on the database's pool; push the warnings raised."""
        result = await self.db.run(refresh, timezone=self.timezone, now=self.now(),
                                   satisfied_min_score=self.satisfied_min_score)
        for view in result["raised"]:
            self.stream.warning(view)
        if result["raised"]:
            _log.info("early warnings raised: {n}", n=len(result["raised"]))
        return result

    async def start(self) -> None:
        self.stream.start()
        if self.refresh_s > 0:
            self._loop = task.LoopingCall(self._tick)
            self._loop.clock = self.reactor
            # The first fold waits one period: the controller's start is busy enough (and the
            # demo folds right after loading its history).
            self._loop.start(self.refresh_s, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        self.stream.stop()

    def _tick(self) -> Any:
        from twisted.internet import defer

        d = defer.ensureDeferred(self.refresh_now())
        d.addErrback(lambda f: _log.failure("indices refresh failed", f))
        return d


def load(deps: Dependencies) -> IndicesPlugin | None:
    """Build the plugin on a console and register its pages and calls; the console's start
    starts the refresh job and its stop stops it."""
    if deps.console is None:
        return None
    plugin = IndicesPlugin(deps=deps)
    deps.console.indices = plugin
    plugin.templates.filters["local"] = deps.console.local_time
    http.register(deps.console.router, plugin)
    deps.console.on_start.append(plugin.start)
    deps.console.on_stop.append(plugin.stop)
    return plugin
