# -*- test-case-name: tests.floor.test_wrapup -*-
"""After-call work (话后整理): when a queue call ends the agent is shown 整理中 and rung no more
for the queue's wrap-up time, or until they say they are ready.

Asterisk's own C{wrapuptime} cannot be ended early, so the wrap-up is a pause the controller
holds (reason L{hotline.calls.model.WRAPUP_REASON}, recorded as every other change of the
agent's state) and lifts when the time is up. The queue keeps a short C{wrapuptime} of its own
(C{queue.wrapup_guard_s}) so that no waiting call reaches the agent in the few milliseconds
before the pause arrives. If the controller stops during a wrap-up, the next one ends it when
its time is up (from the recorded start), so no agent stays paused by a dead timer.

With several nodes a seat may take a call another PBX holds (the overflow rings it through
that PBX as member ``PJSIP/agent-1003@peer-2``). The pause must reach the seat's own queue
member, so the wrap-up is started by the controller of the seat's node, on its own PBX, from
the other PBX's report that its view passes on; the controller of the PBX that held the call
leaves it alone (L{hotline.cluster.routing.wrapup_node}: one owner, never two pauses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from hotline.agents.service import WRAPUP, AgentError, AgentStatus
from hotline.calls.events import AgentCallCompleted
from hotline.cluster.routing import wrapup_node

if TYPE_CHECKING:
    from hotline.agents.service import AgentService
    from hotline.bus import EventBus

__all__ = ["WrapUp"]

_log = Logger(namespace="hotline.floor.wrapup")


class WrapUp:
    """Starts an agent's wrap-up when their queue call completes and ends it on time."""

    def __init__(self, *, agents: AgentService, bus: EventBus, clock: IReactorTime,
                 seconds: float, node: int = 1) -> None:
        """
        @param seconds: the queue's wrap-up time (C{queue.wrapup_s}); 0 turns wrap-up off.
        @param node: this controller's node (C{cluster.node}): the wrap-ups it owns.
        """
        self.node = node
        self.agents = agents
        self.bus = bus
        self.clock = clock
        self.seconds = float(seconds)
        self._timers: dict[str, IDelayedCall] = {}
        #: When each agent's wrap-up ends (clock seconds), while it runs.
        self.ends_at: dict[str, float] = {}
        #: Wrap-ups asked of the PBX and not yet in the records, fired once they are: the desk
        #: shows 整理中 as soon as the PBX pauses the seat, and "ready" may be pressed then.
        self._starting: dict[str, defer.Deferred[None]] = {}
        self._subs: list[Any] = []

    async def start(self) -> None:
        """Listen for completed calls; take over wrap-ups an earlier controller left running."""
        if not self._subs:
            self._subs = self.bus.subscribe_all({AgentCallCompleted: self._completed})
        now = self.clock.seconds()
        for status in await self.agents.status():
            if status.state == WRAPUP and status.code not in self._timers:
                began = status.since.timestamp() if status.since else now
                self._schedule(status.code, max(began + self.seconds - now, 0.0))

    def stop(self) -> None:
        """Stop listening and drop the timers (the records keep the wrap-ups for the next run)."""
        for sub in self._subs:
            sub.cancel()
        self._subs = []
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        self.ends_at.clear()

    def remaining(self, code: str) -> float | None:
        """Seconds left of agent C{code}'s wrap-up; None when they are not in one."""
        end = self.ends_at.get(code)
        return None if end is None else max(end - self.clock.seconds(), 0.0)

    async def end(self, code: str) -> AgentStatus:
        """End agent C{code}'s wrap-up now (the agent is ready early, or the time is up);
        raises L{AgentError} when they are not in one."""
        starting = self._starting.get(code)
        if starting is not None:
            await starting  # the pause is on its way to the records: end it once it is there
        self._drop(code)
        status = await self.agents.end_wrap_up(code)
        _log.info("agent {code} ready after wrap-up", code=code)
        return status

    async def _completed(self, event: AgentCallCompleted) -> None:
        code = event.agent_code
        if code is None or self.seconds <= 0 or code not in self.agents.agents:
            return
        if wrapup_node(event.agent_interface, holder=event.node or self.node) != self.node:
            return  # a seat of another node took this PBX's call: its own controller pauses it
        # The clock runs before the pause is asked for: the pause reaches the live view (整理中)
        # as soon as the PBX has it, and by then the time left must be known.
        self._schedule(code, self.seconds)
        started: defer.Deferred[None] = defer.Deferred()
        self._starting[code] = started
        try:
            status = await self.agents.wrap_up(code)
        except BaseException:
            self._drop(code)
            raise
        finally:
            if self._starting.get(code) is started:
                del self._starting[code]
            started.callback(None)
        if status is None:
            self._drop(code)
            return  # paused during the call, or logged out: nothing to wrap up
        _log.info("agent {code} in wrap-up for {seconds} s after call {uniqueid}", code=code,
                  seconds=self.seconds, uniqueid=event.uniqueid)

    def _drop(self, code: str) -> None:
        timer = self._timers.pop(code, None)
        if timer is not None and timer.active():
            timer.cancel()
        self.ends_at.pop(code, None)

    def _schedule(self, code: str, delay: float) -> None:
        old = self._timers.pop(code, None)
        if old is not None and old.active():
            old.cancel()
        self.ends_at[code] = self.clock.seconds() + delay
        self._timers[code] = self.clock.callLater(delay, self._time_up, code)

    def _time_up(self, code: str) -> defer.Deferred[None]:
        self._timers.pop(code, None)

        async def end() -> None:
            try:
                await self.end(code)
            except AgentError as e:  # ended early, logged out meanwhile
                _log.debug("wrap-up of {code} already over: {why}", code=code, why=e)

        d = defer.ensureDeferred(end())
        d.addErrback(lambda f: _log.failure("ending the wrap-up of {code} failed", f,
                                            code=code))
        return d
