# -*- test-case-name: tests.scheduler.test_integration -*-
"""The timed-reply scheduler: keeps every promise in the callback table.

While this node leads (``scheduler.leader``) it rescans the table every ``sync_interval_s``
(in a database thread), loads what falls due within ``horizon_s`` into the in-memory
``DueBook`` (a few hundred entries per reactor turn, so a large rebuild never stalls the
reactor), and acts when each entry falls due: reminders and escalation before the due time, the
callback itself at it (agent first, then the citizen), retries, quiet hours, hand-over to any
free agent, and satisfaction surveys after a ticket is closed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from db.models import ReminderCallStatus
from hotline.bus import EventBus
from hotline.calls.tracker import CallTracker
from hotline.cluster.routing import free_seats, seat_node
from hotline.naming import parse_attempt_key
from hotline.pbx.topology import nodes
from scheduler import deadlines, store
from scheduler.engine import DueBook, make_scheduler
from scheduler.leader import Leadership
from scheduler.placing import CallPlacer, PlacementUnknown
from scheduler.policy import AttemptOutcome, SchedulerPolicy

__all__ = ["CallbackScheduler"]


@dataclass(frozen=True)
class DialStarted:
    """A callback dialled from the desk: its claimed attempt ``key`` and the Deferred that
    fires with its ``AttemptOutcome`` once the outcome is recorded."""

    key: str
    callback_id: int
    ticket_id: int
    ticket_number: str
    agent_code: str
    ended: Deferred[AttemptOutcome]


__all__ += ["DialStarted"]

_log = Logger(namespace="scheduler.service")

#: Reactor time spent applying book changes per turn while loading (bounds the stall of a
#: large rebuild).
_APPLY_BUDGET_S = 0.005
#: Every this many syncs, attempts left open with nobody following them are settled.
_SETTLE_EVERY = 20
#: The scheduler's units of work running at once on the database's thread pool. One: SQLite
#: takes one writer at a time anyway, and every further thread running SQLAlchemy competes
#: with the reactor for the GIL. A waiting thread gets the GIL only after a 5 ms switch
#: interval and then loses it to any other waiter, so each extra runnable thread adds about
#: 5 ms per wait; with four, bench.scheduler saw 40-100 ms stalls during a burst, with one
#: about 10 ms (the reactor's own work ~5 ms).
_DB_CONCURRENCY = 1


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallbackScheduler:
    """Enforces timed replies from one node; built from shared objects, started and stopped.

    @param config: the hotline ``Config`` (``[scheduler]``, ``[site]``, ``[queue]``).
    @param ami: the AMI client of the hotline PBX (placing calls, reading outcomes).
    @param db: the ``Database`` (its thread pool runs every query).
    @param reactor: time, threads and the APScheduler wake-ups.
    @param node: a name for logs and the leader record.
    @param tracker: the live call view (a L{hotline.calls.tracker.CallTracker}) whose domain
        events tell how placed legs end and whose agents tell who is free; None: one of its own
        on C{ami} (a standalone scheduler node).
    """

    def __init__(self, *, config: Any, ami: Any, db: Any, reactor: Any, node: str = "",
                 now: Callable[[], dt.datetime] = _utcnow, tracker: Any = None) -> None:
        self.settings = dict(config["scheduler"], caller_id=config["site"]["hotline_number"],
                             follow_up=config["tickets"]["follow_up"],
                             reopen_max_score=config["tickets"]["reopen_max_score"])
        self.policy = SchedulerPolicy(self.settings, timezone=config["site"]["timezone"])
        from hotline.tickets.clock import DeadlineRules
        from hotline.tickets.service import TicketService

        #: Survey verdicts reopen or close tickets through the ticket service (its rules).
        self.tickets = TicketService(timezone=config["site"]["timezone"], clock=now,
                                     rules=DeadlineRules.from_settings(config["tickets"]))
        self.zone = self.policy.quiet.zone
        self.queue = config["queue"]["name"]
        self.ami = ami
        self.db = db
        self.reactor = reactor
        self.node = node
        self.now = now
        self._own_tracker = tracker is None and ami is not None
        if self._own_tracker:
            tracker = CallTracker(ami=ami, clock=reactor, queue_name=self.queue)
        self.tracker = tracker
        #: The controller's bus (the tracker's): the calls' events in, the notices out.
        self.bus = bus = tracker.bus if tracker is not None else EventBus()
        self.placer = CallPlacer(ami=ami, bus=bus, settings=self.settings, reactor=reactor,
                                 now=now)
        #: This node's number and where each configured seat rings (several PBXs).
        self.node_number = int(config["cluster"]["node"])
        self._seats = {code: n.number for n in nodes(config) for code in n.seats}
        #: Other nodes' PBXs (L{add_peer}): node → (its view's tracker, a placer on a link of
        #: this scheduler's own to that PBX).
        self.peers: dict[int, tuple[Any, CallPlacer]] = {}
        self.aps = make_scheduler(reactor)
        self.book = DueBook(self.aps, self._on_due)
        self.leader = Leadership(engine=db.engine, reactor=reactor,
                                 lock_key=int(self.settings["leader_lock_key"]),
                                 poll_s=float(self.settings["leader_poll_s"]),
                                 on_change=self._leading_changed, node=node)
        self._db_slots = DeferredSemaphore(_DB_CONCURRENCY)
        self._waiting: deque[int] = deque()
        self._queued: set[int] = set()
        self._active: set[int] = set()
        self._surveys: set[int] = set()
        self._reminders: set[int] = set()
        self._reserved: set[str] = set()
        self._rotation = itertools.count()
        self._sync_loop: LoopingCall | None = None
        self._syncing = False
        self._syncs = 0
        self._running = False
        #: Placed attempts since start, for logs and tests: (key, agent, outcome).
        self.placed: list[tuple[str, str | None, str]] = []

    def add_peer(self, node: int, *, ami: Any, tracker: Any) -> None:
        """Place callbacks on node ``node``'s PBX too: a seat of that PBX is rung there (its
        phone registers nowhere else) and the citizen's leg leaves through that PBX's trunk,
        so one PBX holds the whole attempt and its AstDB trace. ``ami`` is a link (not
        started) owned by this scheduler; ``tracker`` that PBX's view (free seats, and the
        events that tell how the legs end: Asterisk sends them to every session)."""
        self.peers[node] = (tracker, CallPlacer(ami=ami, bus=tracker.bus,
                                                settings=self.settings, reactor=self.reactor,
                                                now=self.now))

    def _placers(self) -> dict[int, CallPlacer]:
        return {self.node_number: self.placer, **{n: p for n, (_, p) in self.peers.items()}}

    def _free(self) -> dict[str, int]:
        """Every free seat of every PBX this scheduler places on, with its node, this
        node's first."""
        by_node = {self.node_number: self.tracker.free_agents()}
        by_node.update({n: tracker.free_agents() for n, (tracker, _) in self.peers.items()})
        return free_seats(by_node, own=self.node_number)

    def _placer_of(self, agent: str, free: dict[str, int] | None = None) -> CallPlacer:
        """The placer of the PBX that rings seat ``agent``."""
        node = (free or {}).get(agent) or seat_node(agent, seats=self._seats,
                                                     own=self.node_number)
        return self._placers().get(node, self.placer)

    async def _placer_holding(self, key: str) -> CallPlacer:
        """The placer of the PBX where attempt ``key`` is up or left its trace (this node's
        when none says so, or when a peer's PBX cannot be asked)."""
        if not self.peers:
            return self.placer
        for placer in self._placers().values():
            try:
                if await placer.holds(key):
                    return placer
            except Exception:  # noqa: BLE001 - that PBX is down: ask the next
                continue
        return self.placer

    def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        """``db.run`` (whose one retry policy runs a unit again when SQLite refuses it as
        locked; every unit here is safe to run again after its rollback), at most
        ``_DB_CONCURRENCY`` at once: more would not go faster (one writer) but would keep more
        threads wanting the GIL, which the reactor feels as stalls (see the constant)."""
        return self._db_slots.run(self.db.run, fn, *args, **kwargs)

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to AMI events, start APScheduler and begin competing for the lead
        (nothing at all when ``scheduler.enabled`` is false)."""
        if not self.settings["enabled"]:
            _log.info("scheduler disabled (scheduler.enabled = false)")
            return
        self._running = True
        if self._own_tracker:
            self.tracker.subscribe()
            if self.ami.ready:
                await self.tracker.resync(self.ami)
        self.placer.subscribe()
        for _, placer in self.peers.values():
            placer.subscribe()
            placer.ami.start()
        self.aps.start()
        self.leader.start()

    async def stop(self) -> None:
        """Stop scheduling. Calls in progress keep going in Asterisk; their attempts stay open
        in the table and the next scheduler to lead settles them (``placer.recover``)."""
        if not self._running:
            return
        self._running = False
        self._stop_sync()
        await self.leader.stop()
        self.book.clear()
        if self.aps.running:
            self.aps.shutdown(wait=False)
        for placer in self._placers().values():
            placer.unsubscribe()
            placer.abandon()
        for _, placer in self.peers.values():
            await placer.ami.stop()
        if self._own_tracker:
            self.tracker.stop()

    @property
    def running(self) -> bool:
        """Whether this scheduler is started (not disabled, not stopped): it places calls."""
        return self._running

    @property
    def leading(self) -> bool:
        return self.leader.leading

    def on_notice(self, listener: Callable[[store.Notice], object]) -> Callable[[], None]:
        """Call ``listener(notice)`` for every reminder and escalation sent (the console
        pushes them); failures are logged and harm nothing. A subscription to
        L{store.Notice} on the bus; returns its remover."""
        return self.bus.subscribe(store.Notice, listener).cancel

    def on_ticket_notice(self, listener: Callable[[deadlines.TicketNotice], object]
                         ) -> Callable[[], None]:
        """Call ``listener(notice)`` for every deadline reminder, 督办 notice, reminder call
        outcome and survey verdict (the console pushes them to the pages). A subscription to
        L{deadlines.TicketNotice} on the bus, like L{on_notice}; returns its remover."""
        return self.bus.subscribe(deadlines.TicketNotice, listener).cancel

    def _ticket_notify(self, notice: deadlines.TicketNotice | None) -> None:
        if notice is not None:
            self.bus.publish(notice)

    def _leading_changed(self, leading: bool) -> None:
        if not self._running:
            return
        if leading:
            d = Deferred.fromCoroutine(self._take_over())
            d.addErrback(lambda f: _log.failure("taking over the schedule failed", f))
        else:
            self._stop_sync()
            self.book.clear()
            self._waiting.clear()
            self._queued.clear()

    async def _take_over(self) -> None:
        """Settle what a previous leader left open, then load the book and keep it fresh."""
        await self.ami.when_ready()
        await self._db(store.set_state, "leader", self.node or "-", self.now())
        await self._settle_open()
        if self.leading and self._running:
            self._sync_loop = LoopingCall(self.sync)
            self._sync_loop.clock = self.reactor
            self._sync_loop.start(float(self.settings["sync_interval_s"]), now=True)

    async def _settle_open(self) -> None:
        """Attempts and surveys claimed but never finished, that nobody here follows: at
        take-over (the last leader died) and now and then after (a write that failed)."""
        for attempt in await self._db(store.open_attempts):
            if attempt.callback_id in self._active or any(
                    p.following(attempt.key) for p in self._placers().values()):
                continue
            self._active.add(attempt.callback_id)
            d = Deferred.fromCoroutine(self._recover(attempt))
            d.addErrback(lambda f, k=attempt.key: _log.failure("recovering {key} failed", f,
                                                                key=k))
            d.addBoth(lambda _, cid=attempt.callback_id: self._release(cid))
        for key in await self._db(deadlines.open_reminder_calls):
            ident = _ident(key)
            if ident in self._reminders or self.placer.following(key):
                continue
            self._reminders.add(ident)
            d = Deferred.fromCoroutine(self._recover_reminder(key))
            d.addErrback(lambda f, k=key: _log.failure("recovering reminder {key} failed", f,
                                                        key=k))
            d.addBoth(lambda _, i=ident: self._reminders.discard(i))
        for key in await self._db(store.open_surveys):
            ident = _ident(key)
            if ident in self._surveys or self.placer.following(key):
                continue
            self._surveys.add(ident)
            d = Deferred.fromCoroutine(self._recover_survey(key))
            d.addErrback(lambda f, k=key: _log.failure("recovering survey {key} failed", f,
                                                        key=k))
            d.addBoth(lambda _, i=ident: self._surveys.discard(i))

    def _stop_sync(self) -> None:
        if self._sync_loop is not None and self._sync_loop.running:
            self._sync_loop.stop()
        self._sync_loop = None

    # -- loading the book ------------------------------------------------------------------

    def sync(self) -> Deferred[None]:
        """Rescan the callback table (in a thread) and bring the book in line with it."""
        if self._syncing or not self.leading:
            return Deferred.fromCoroutine(_nothing())
        self._syncing = True
        now = self.now()
        until = now + dt.timedelta(seconds=float(self.settings["horizon_s"]))
        d = self._db(store.scan, now=now, until=until, settings=self.settings,
                        surveys=bool(self.settings["survey_enabled"]))
        d.addCallback(self._reconcile)
        self._syncs += 1
        if self._syncs % _SETTLE_EVERY == 0:
            d.addCallback(lambda _: Deferred.fromCoroutine(self._settle_open()))
        d.addErrback(lambda f: _log.failure("scheduler sync failed", f))

        def done(_: object) -> None:
            self._syncing = False
        d.addBoth(done)
        return d

    def _reconcile(self, wanted: dict[store.Entry, dt.datetime]) -> Deferred[None]:
        """Bring the book in line with a scan. Each change is decided as it is applied, a
        slice at a time: comparing 20,000 entries alone took ~50 ms of one reactor turn."""
        now = self.now()

        def changes() -> Iterator[tuple[store.Entry, dt.datetime | None] | None]:
            for entry, at in wanted.items():
                kind, ident = entry
                if kind == "place" and (ident in self._active or ident in self._queued):
                    yield None  # being handled on this node right now
                elif kind == "survey" and ident in self._surveys:
                    yield None
                elif kind == "reminder_call" and ident in self._reminders:
                    yield None
                elif self.book.holds(entry, at):
                    yield None
                elif kind == "place" and at <= now and entry in self.book:
                    yield None  # overdue and already set to look for a free agent again
                else:
                    yield entry, at
            for entry in self.book.entries():
                yield None if entry in wanted else (entry, None)

        return self._apply_in_slices(changes())

    def _apply_in_slices(self, changes: Iterator[Any]) -> Deferred[None]:
        """Apply book changes a few milliseconds at a time, yielding to the reactor between,
        so loading thousands of entries never stalls calls in progress."""
        done: Deferred[None] = Deferred()

        def step() -> None:
            if not self.leading:
                done.callback(None)
                return
            if self.book.apply_within(changes, _APPLY_BUDGET_S):
                done.callback(None)
            else:
                self.reactor.callLater(0, step)

        step()
        return done

    def _on_due(self, entries: list[store.Entry]) -> None:
        for kind, ident in entries:
            if kind == "place":
                if ident not in self._queued and ident not in self._active:
                    self._queued.add(ident)
                    self._waiting.append(ident)
            elif kind == "survey":
                if ident not in self._surveys:
                    self._surveys.add(ident)
                    d = Deferred.fromCoroutine(self._survey(ident))
                    d.addErrback(lambda f, i=ident: _log.failure("survey {id} failed", f, id=i))
                    d.addBoth(lambda _, i=ident: self._surveys.discard(i))
            elif kind in deadlines.NOTICE_KINDS:
                d = self._db(deadlines.send_deadline_notice, ident, kind, now=self.now(),
                             zone=self.zone, calls=bool(self.settings["reminder_calls"]))
                d.addCallback(self._deadline_sent)
                d.addErrback(lambda f, k=kind, i=ident: _log.failure(
                    "{kind} for ticket {id} failed", f, kind=k, id=i))
            elif kind == "reminder_call":
                if ident not in self._reminders:
                    self._reminders.add(ident)
                    d = Deferred.fromCoroutine(self._reminder_call(ident))
                    d.addErrback(lambda f, i=ident: _log.failure("reminder call {id} failed",
                                                                 f, id=i))
                    d.addBoth(lambda _, i=ident: self._reminders.discard(i))
            else:
                d = self._db(store.send_notice, ident, kind, now=self.now(),
                                settings=self.settings, zone=self.zone)
                d.addCallback(self._notify)
                d.addErrback(lambda f, k=kind, i=ident: _log.failure(
                    "{kind} for callback {id} failed", f, kind=k, id=i))
        self._pump()

    def _notify(self, notice: store.Notice | None) -> None:
        if notice is None:
            return
        _log.info("{text}", text=notice.text, callback=notice.callback_id)
        self.bus.publish(notice)

    # -- placing callbacks -----------------------------------------------------------------

    def _pump(self) -> None:
        limit = int(self.settings["max_concurrent"])
        while self._waiting and len(self._active) < limit and self.leading:
            ident = self._waiting.popleft()
            self._queued.discard(ident)
            self._active.add(ident)
            d = Deferred.fromCoroutine(self._attempt(ident))
            d.addErrback(lambda f, i=ident: _log.failure("callback {id} attempt failed", f,
                                                         id=i))
            d.addBoth(lambda _, i=ident: self._release(i))

    def _release(self, ident: int) -> None:
        self._active.discard(ident)
        self._pump()

    async def _attempt(self, ident: int) -> None:
        info = await self._db(store.prepare, ident, now=self.now(), policy=self.policy)
        if isinstance(info, store.Moved):
            if info.at is not None and self.leading:
                self.book.set(("place", ident), info.at)
            _log.info("callback {id}: {why}", id=ident, why=info.why)
            return
        seats = self._free()
        free = [a for a in seats if a not in self._reserved]
        hand_over = False
        agent: str | None = None
        if info.owner_code and not info.handed_over:
            if info.owner_code in free:
                agent = info.owner_code
            elif self.policy.handover_due(info.due_at, self.now()):
                hand_over = True
                agent = self._pick(free)
        else:
            agent = self._pick(free)
        if agent is None:
            if self.leading:
                self.book.set(("place", ident),
                              self.now() + dt.timedelta(seconds=self.settings["agent_wait_s"]))
            return
        self._reserved.add(agent)
        try:
            key = await self._db(store.claim, info, agent_code=agent, now=self.now(),
                                    policy=self.policy, hand_over=hand_over)
            if key is None:
                _log.info("callback {id}: taken by another node", id=ident)
                return
            _log.info("callback {id}: attempt {key} rings agent {agent}{how}", id=ident,
                      key=key, agent=agent, how=" (handed over)" if hand_over else "")
            await self._dial(key, info, agent, self._placer_of(agent, seats))
        finally:
            self._reserved.discard(agent)

    def _pick(self, free: list[str]) -> str | None:
        if not free:
            return None
        return free[next(self._rotation) % len(free)]

    async def _recover(self, attempt: store.OpenAttempt) -> None:
        placer = await self._placer_holding(attempt.key)
        result = await placer.recover(attempt.key)
        assert isinstance(result, AttemptOutcome)
        _log.info("attempt {key} left open by a previous run: {outcome}", key=attempt.key,
                  outcome=result.outcome)
        await self._finish(attempt.key, result, result.agent_code, placer)

    async def _finish(self, key: str, result: AttemptOutcome, agent: str | None,
                      placer: CallPlacer | None = None) -> None:
        step, at = await self._db(store.finish, key, result, now=self.now(),
                                     policy=self.policy)
        self.placed.append((key, agent, result.outcome))
        ident = _ident(key)
        _log.info("attempt {key}: {outcome} ({detail}) -> {step}", key=key,
                  outcome=result.outcome, detail=result.detail, step=step)
        if step == "retry" and at is not None and self.leading:
            self.book.set(("place", ident), at)
        await (placer or self.placer).forget_trace(key, "callback")

    # -- dialling from the desk ------------------------------------------------------------

    async def dial_now(self, callback_id: int, agent_code: str) -> DialStarted:
        """Place callback ``callback_id`` now, ringing ``agent_code`` first (the desk's 回拨
        button): the same claim, attempt row, placement, outcome and SLA as a due attempt, so
        it is never placed twice. Returns once the attempt is claimed; its outcome follows in
        ``DialStarted.ended``. Raises ``store.DialRefused`` (nothing changed) when the
        scheduler is not running here, the callback is being placed, has ended, is another
        agent's, or the agent is being rung for another callback."""
        if not self._running:
            raise store.DialRefused("not-running", "回拨调度未运行 (the callback scheduler is "
                                                   "not running on this console)")
        if callback_id in self._active:
            raise store.DialRefused("being-placed", "该回拨正在拨打中 (this callback is being "
                                                    "placed right now)")
        if agent_code in self._reserved:
            raise store.DialRefused("agent-busy", "您的话机正在为另一个回拨振铃 (your phone is "
                                                  "being rung for another callback)")
        queued = callback_id in self._queued
        if queued:  # due and waiting for a free slot: this press places it instead
            self._queued.discard(callback_id)
            self._waiting.remove(callback_id)
        self._active.add(callback_id)
        self._reserved.add(agent_code)
        try:
            info = await self._db(store.prepare_dial, callback_id, agent_code=agent_code,
                                  now=self.now(), policy=self.policy)
            key = await self._db(store.claim, info, agent_code=agent_code, now=self.now(),
                                 policy=self.policy)
            if key is None:
                raise store.DialRefused("being-placed", "该回拨刚被调度占用 (another scheduler "
                                                        "took this callback just now)")
        except BaseException:
            self._reserved.discard(agent_code)
            self._active.discard(callback_id)
            if queued and self.leading:
                self._queued.add(callback_id)
                self._waiting.appendleft(callback_id)
            self._pump()
            raise
        _log.info("callback {id}: attempt {key} dialled from the desk by agent {agent}",
                  id=callback_id, key=key, agent=agent_code)
        ended = Deferred.fromCoroutine(self._dial(key, info, agent_code,
                                                  self._placer_of(agent_code, self._free())))

        def released(result: Any) -> Any:
            self._reserved.discard(agent_code)
            self._release(callback_id)
            return result
        ended.addBoth(released)
        return DialStarted(key=key, callback_id=callback_id, ticket_id=info.ticket_id,
                           ticket_number=info.ticket_number, agent_code=agent_code,
                           ended=ended)

    async def _dial(self, key: str, info: store.CallbackInfo, agent: str,
                    placer: CallPlacer) -> AttemptOutcome:
        """Place a claimed attempt on the PBX of ``placer`` and record its outcome: a due
        attempt and a desk press alike."""
        try:
            result = await placer.place_callback(
                key=key, agent_code=agent, citizen=info.citizen_phone,
                ticket_id=info.ticket_id, ticket_number=info.ticket_number,
                callback_id=info.id)
        except Exception as e:  # noqa: BLE001 - the attempt is claimed: settle it from what
            # Asterisk knows rather than leave it open
            _log.warn("attempt {key}: {error}; asking Asterisk what happened", key=key,
                      error=e)
            await placer.ami.when_ready()
            result = await placer.recover(key)
        assert isinstance(result, AttemptOutcome)
        await self._finish(key, result, agent, placer)
        return result

    # -- deadline reminders and 督办 ----------------------------------------------------------

    def _deadline_sent(self, notice: deadlines.TicketNotice | None) -> None:
        if notice is None or notice.notice is None:
            return
        _log.info("{text}", text=notice.notice["text"], ticket=notice.notice["ticket"])
        self._ticket_notify(notice)
        if notice.notice["call_status"] == ReminderCallStatus.PENDING and self.leading:
            self.book.set(("reminder_call", notice.notice["id"]), self.now())

    async def _reminder_call(self, ident: int) -> None:
        info = await self._db(deadlines.claim_reminder_call, ident, now=self.now())
        if info is None:
            return
        due = info.due_at.astimezone(self.zone)
        say = deadlines.spoken_reminder(info.kind, info.ticket_number, due)
        _log.info("reminder call {key} to {number} for ticket {ticket}", key=info.key,
                  number=info.number, ticket=info.ticket_number)
        try:
            out = await self.placer.place_reminder(key=info.key, number=info.number,
                                                   ticket_number=info.ticket_number, say=say)
        except PlacementUnknown:
            await self.ami.when_ready()
            out = await self.placer.recover(info.key, "reminder")
        await self._finish_reminder(info.key, out)

    async def _recover_reminder(self, key: str) -> None:
        out = await self.placer.recover(key, "reminder")
        await self._finish_reminder(key, out)

    async def _finish_reminder(self, key: str, out: Any) -> None:
        step, at, notice = await self._db(
            deadlines.finish_reminder_call, key, answered=out.answered, digit=out.score,
            now=self.now(), retry_s=float(self.settings["reminder_retry_s"]),
            max_attempts=int(self.settings["reminder_max_attempts"]))
        _log.info("reminder call {key}: {detail} -> {step}", key=key, detail=out.detail,
                  step=step)
        self._ticket_notify(notice)
        if step == "retry" and at is not None and self.leading:
            self.book.set(("reminder_call", _ident(key)), at)
        await self.placer.forget_trace(key, "reminder")

    # -- surveys ---------------------------------------------------------------------------

    async def _survey(self, ident: int) -> None:
        info = await self._db(store.claim_survey, ident, now=self.now(), policy=self.policy)
        if isinstance(info, store.Moved):
            if info.at is not None and self.leading:
                self.book.set(("survey", ident), info.at)
            return
        _log.info("survey {key} for ticket {ticket}", key=info.key, ticket=info.ticket_number)
        try:
            out = await self.placer.place_survey(key=info.key, citizen=info.citizen_phone,
                                                 ticket_number=info.ticket_number)
        except PlacementUnknown:
            await self.ami.when_ready()
            out = await self.placer.recover(info.key, "survey")
        await self._finish_survey(info.key, out)

    async def _recover_survey(self, key: str) -> None:
        out = await self.placer.recover(key, "survey")
        await self._finish_survey(key, out)

    async def _finish_survey(self, key: str, out: Any) -> None:
        step, at = await self._db(store.finish_survey, key, answered=out.answered,
                                     score=out.score, now=self.now(),
                                     retry_s=float(self.settings["survey_retry_s"]),
                                     tickets=self.tickets,
                                     reopen_max_score=int(self.settings["reopen_max_score"]))
        _log.info("survey {key}: {detail} -> {step}", key=key, detail=out.detail, step=step)
        if step == "done" and self.bus.listening(deadlines.TicketNotice):
            self._ticket_notify(await self._db(deadlines.surveyed_ticket, key))
        if step == "retry" and at is not None and self.leading:
            self.book.set(("survey", _ident(key)), at)
        await self.placer.forget_trace(key, "survey")


def _ident(key: str) -> int:
    """The row id in an attempt key (cb-/sv-/rm-<id>-<n>, L{hotline.naming})."""
    parsed = parse_attempt_key(key)
    if parsed is None:
        raise ValueError(f"not an attempt key: {key!r}")
    return parsed.ident


async def _nothing() -> None:
    return None

