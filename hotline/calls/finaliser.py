# -*- test-case-name: tests.test_controller -*-
"""Finalise each inbound call's row from the calls' domain events: answered by whom, how long,
which files. The tracker (L{hotline.calls.tracker}) reads AMI; this module reads its events."""

from __future__ import annotations

import bisect
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from hotline import naming
from hotline.calls.events import (
    AgentCallCompleted,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallFinalised,
    CallQueued,
    CallRecording,
)
from hotline.calls.journal import FinalRow, RecordingFile, finalise_call

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from db.session import Database
    from hotline.bus import EventBus

#: Work another package adds to a call's final unit of work: C{step(session, final_row)}.
FinalStep = Callable[["Session", FinalRow], object]

__all__ = ["CallFinaliser", "RECORDING_SUFFIXES", "recording_files", "agent_code",
           "FinalStep", "finalise_with_steps"]

#: The files the dialplan's MixMonitor writes per call, by direction.
RECORDING_SUFFIXES: dict[str, str] = {"citizen": "-citizen.wav", "agent": "-agent.wav",
                                      "mix": "-mix.wav"}

_log = Logger(namespace="hotline.calls.finaliser")


def _utc(epoch: float) -> dt.datetime:
    """An event's time (epoch seconds) as an aware UTC time."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def agent_code(member: str | None, interface: str | None) -> str | None:
    """``PJSIP/agent-1001`` → ``1001``; the member name (``agent 1001``) is the fallback
    (L{hotline.naming.agent_code}, kept under this name for its callers)."""
    return naming.agent_code(interface, member)


def finalise_with_steps(session: Session, steps: tuple[tuple[FinalStep, bool], ...],
                        **call: Any) -> FinalRow:
    """The call's one final unit of work: its row (L{finalise_call}), then every package's
    step on it (the transcription job, the bridges noted on the ticket). A guarded step runs
    in a savepoint of its own; an unguarded one puts its own writes in savepoints (most calls
    give it nothing to write, and a savepoint is two statements). A failing step is logged and
    loses neither the row nor the others, except a database error in an unguarded step: it
    fails the unit, which may no longer be able to commit."""
    row = finalise_call(session, **call)
    for step, guarded in steps:
        try:
            if guarded:
                with session.begin_nested():
                    step(session, row)
            else:
                step(session, row)
        except Exception as e:  # noqa: BLE001 - the row must be written whatever a step does
            if not guarded and isinstance(e, DBAPIError):
                # Outside a savepoint a failed statement may have aborted the transaction
                # (PostgreSQL would then drop the row at COMMIT without a word): fail the unit
                # instead; the call is written again alone, or by the reconciler.
                raise
            _log.failure("a final step {step!r} failed for call {uniqueid}", step=step,
                         uniqueid=row.uniqueid)
    return row


def _final_units(session: Session, steps: tuple[tuple[FinalStep, bool], ...],
                 host_path: Callable[[str], str],
                 calls: list[tuple[str | None, dict[str, Any]]]) -> list[FinalRow]:
    """L{finalise_with_steps} for each call, in one unit of work, with every call's files
    looked at first: on the same database thread (no hop of their own) and before the
    unit's first statement, so the write lock is not held while the disk answers."""
    files = [recording_files(recording, host_path) for recording, _ in calls]
    return [finalise_with_steps(session, steps, recordings=recs, **call)
            for recs, (_, call) in zip(files, calls, strict=True)]


@dataclass
class _Open:
    uniqueid: str
    linkedid: str
    caller: str
    started_at: dt.datetime
    recording: str | None = None
    joined_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    wait_s: float | None = None
    agent_code: str | None = None
    hungup_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class CallFinaliser:
    """Follows each hotline call from its first event to its Hangup and writes the outcome.

    Only channels that enter the ``inbound`` context are followed; everything else (agent
    legs, bridge rooms) is ignored here. Writes go to the database's thread pool; a failed
    write is logged with the call's uniqueid and never stops the event flow.
    """

    def __init__(self, *, bus: EventBus, db: Database,
                 host_path: Callable[[str], str] = lambda p: p,
                 now: Callable[[], dt.datetime] | None = None, settle_s: float = 1.0,
                 batch_s: float = 0.2, complete_wait_s: float = 5.0) -> None:
        """
        @param settle_s: how long after its Hangup a call is written (MixMonitor closes its
            files just after the channel goes).
        @param batch_s: calls that end within this many seconds of each other are written in
            one unit of work (a burst of ends costs one transaction, not one each).
        @param complete_wait_s: how long after its Hangup an answered call waits at most for
            the queue's C{AgentComplete} (who hung up) when that has not come yet; it is
            written as soon as it comes (and C{settle_s} has passed).
        """
        self.bus = bus
        self.settle_s = settle_s
        self.complete_wait_s = complete_wait_s
        self.batch_s = batch_s
        self.db = db
        self.host_path = host_path
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self._open: dict[str, _Open] = {}
        self._subs: list[Any] = []
        self._steps: tuple[tuple[FinalStep, bool], ...] = ()
        #: Calls hung up whose row is being written (between Hangup and commit); until the
        #: row is written a late C{AgentComplete} still tells who hung up.
        self._finishing: dict[str, _Open] = {}
        #: Calls hung up, waiting for their final unit, in the order they become due.
        self._due: list[_Due] = []
        self._timer: Any = None

    def is_following(self, uniqueid: str) -> bool:
        """True while this finaliser will write the call's final row itself."""
        return uniqueid in self._open or uniqueid in self._finishing

    def forget(self, uniqueid: str) -> bool:
        """Stop following a call whose Hangup will never come (it ended while the AMI link was
        down: the reconciler records it from the PBX's summary); True if it was followed."""
        return self._open.pop(uniqueid, None) is not None

    def on_finalised(self, listener: Callable[[int], Any]) -> Callable[[], None]:
        """Call ``listener(call_id)`` once each call's final row is committed.

        Follow-up work (transcription, ticket notes) hangs off this instead of off AMI events,
        so it only ever sees a call whose row and recordings are in the database. The listener
        may return a Deferred or a coroutine; its failure is logged and harms nothing else.
        Returns a function that removes the listener. (A subscription to L{CallFinalised} on
        the bus, which is what this finaliser publishes.)
        """
        return self.bus.subscribe(CallFinalised, lambda e: listener(e.call_id)).cancel

    def add_step(self, step: FinalStep, *, guarded: bool = True) -> Callable[[], None]:
        """Run C{step(session, final_row)} inside each call's final unit of work from now on
        (one transaction per call instead of one per follow-up); returns the remover.

        The step runs on a database thread: it must only touch the session. It runs in a
        savepoint of its own unless C{guarded} is False: then it reads without one and puts
        each of its writes in a savepoint itself (C{session.begin_nested()}), so that a write
        that fails loses neither the row nor the other steps. Work that is not the
        database's (starting a decoder, pushing to a desk) listens to L{CallFinalised}
        instead, which is published once the unit is committed.
        """
        entry = (step, guarded)
        self._steps = (*self._steps, entry)

        def remove() -> None:
            self._steps = tuple(s for s in self._steps if s is not entry)
        return remove

    def _notify(self, call_id: int, uniqueid: str) -> None:
        self.bus.publish(CallFinalised(call_id, uniqueid))

    def subscribe(self) -> None:
        """The domain events this component reads, in one place."""
        if not self._subs:
            self._subs = self.bus.subscribe_all({
                CallArrived: self._arrived,
                CallRecording: self._recording,
                CallQueued: self._joined,
                CallAnswered: self._connected,
                CallEnded: self._hangup,
                AgentCallCompleted: self._completed,
            })

    def unsubscribe(self) -> None:
        for sub in self._subs:
            sub.cancel()
        self._subs = []

    def _arrived(self, e: CallArrived) -> None:
        if e.uniqueid not in self._open:
            self._open[e.uniqueid] = _Open(uniqueid=e.uniqueid, linkedid=e.linkedid,
                                           caller=e.caller, started_at=_utc(e.at))

    def _recording(self, e: CallRecording) -> None:
        call = self._open.get(e.uniqueid)
        if call is not None:
            call.recording = e.path

    def _joined(self, e: CallQueued) -> None:
        call = self._open.get(e.uniqueid)
        if call is not None:
            call.joined_at = _utc(e.at)

    def _connected(self, e: CallAnswered) -> None:
        call = self._open.get(e.uniqueid)
        if call is None:
            return
        call.answered_at = _utc(e.at)
        call.wait_s = float(e.hold_time or 0)
        call.agent_code = e.agent_code
        # Not written now: the answer is part of the call's one unit of work at hangup. The
        # console's pop and the bridge read the live view, not the row, while the call is up.

    def _completed(self, e: AgentCallCompleted) -> None:
        """Who hung up, from the queue. Asterisk raises C{AgentComplete} from app_queue's own
        stasis subscription, so on a loaded PBX it can come after the caller's C{Hangup}, by
        more than C{settle_s}: an answered call waits for it (up to C{complete_wait_s}), and
        it is taken until the row is written."""
        call = self._open.get(e.uniqueid) or self._finishing.get(e.uniqueid)
        if call is None or call.hungup_by is not None:
            return
        call.hungup_by = _who_hung_up(e.reason)
        for due in self._due:
            if due.call is call and due.at > due.settled:
                # It waited for this: written once settled, not at the end of the wait.
                self._due.remove(due)
                due.at = max(due.settled, self.db.reactor.seconds())
                self._enqueue(due)
                break

    def _hangup(self, e: CallEnded) -> None:
        call = self._open.pop(e.uniqueid, None)
        if call is None:
            return
        call.hungup_by = _who_hung_up(e.complete_reason) or call.hungup_by
        ended = _utc(e.at)
        talk = (ended - call.answered_at).total_seconds() if call.answered_at else None
        cause = e.cause or None
        self._finishing[call.uniqueid] = call
        now = self.db.reactor.seconds()
        settled = now + self.settle_s
        # An answered call the queue has not yet said who hung up waits for its AgentComplete.
        waiting = call.answered_at is not None and call.hungup_by is None
        due = _Due(at=max(settled, now + self.complete_wait_s) if waiting else settled,
                   settled=settled, call=call, ended=ended, talk=talk, cause=cause)
        self._enqueue(due)

        def finalised(row: Any) -> None:
            _log.info("call {uniqueid} finalised: {status}, talk {talk}s, cause {cause} "
                      "{cause_txt}, hung up by {who}", uniqueid=call.uniqueid,
                      status=row.status, talk=talk, cause=cause, cause_txt=e.cause_txt,
                      who=call.hungup_by)
            self._notify(row.id, call.uniqueid)

        d = due.done
        d.addCallback(finalised)
        d.addErrback(lambda f: _log.failure("cannot finalise call {uniqueid}", f,
                                            uniqueid=call.uniqueid))
        d.addBoth(lambda r: (self._finishing.pop(call.uniqueid, None), r)[1])

    # -- writing ----------------------------------------------------------------------------

    def _arm(self) -> None:
        """Wake up once the oldest waiting call is due, and C{batch_s} later so that the calls
        ending meanwhile go in the same unit."""
        if not self._due or (self._timer is not None and self._timer.active()):
            return
        wait = max(0.0, self._due[0].at - self.db.reactor.seconds()) + self.batch_s
        self._timer = self.db.reactor.callLater(wait, self._write_due)

    def _enqueue(self, due: _Due) -> None:
        """File C{due} in the order calls fall due (one waiting for its AgentComplete may be
        ahead of calls hung up after it); wake up for it if it is now the first."""
        bisect.insort(self._due, due, key=_due_at)
        if self._due[0] is due and self._timer is not None and self._timer.active():
            self._timer.cancel()
            self._timer = None
        self._arm()

    def _write_due(self) -> None:
        self._timer = None
        now = self.db.reactor.seconds()
        ready = 0
        while ready < len(self._due) and self._due[ready].at <= now:
            ready += 1
        batch, self._due = self._due[:ready], self._due[ready:]
        self._arm()
        if batch:
            self._write(batch)

    def _write(self, batch: list[_Due]) -> None:
        """One unit for the batch; if it fails, one unit per call, so that a call the
        database refuses costs only itself."""
        d = self.db.run(_final_units, self._steps, self.host_path,
                        [self._final_call(due) for due in batch])

        def written(rows: list[FinalRow]) -> None:
            for due, row in zip(batch, rows, strict=True):
                due.done.callback(row)

        def one_by_one(failure: Any) -> None:
            if len(batch) == 1:
                batch[0].done.errback(failure)
                return
            _log.warn("the final unit of {n} calls failed ({error}); writing them one by one",
                      n=len(batch), error=failure.getErrorMessage())
            for due in batch:
                alone = self.db.run(_final_units, self._steps, self.host_path,
                                    [self._final_call(due)])
                alone.addCallbacks(lambda rows, due=due: due.done.callback(rows[0]),
                                   due.done.errback)

        d.addCallbacks(written, one_by_one)
        d.addErrback(lambda f: _log.failure("finaliser: handing out a batch's rows failed", f))

    @staticmethod
    def _final_call(due: _Due) -> tuple[str | None, dict[str, Any]]:
        """The call's recording prefix and what its row says, as known now (a late
        C{AgentComplete} may have said who hung up since the Hangup)."""
        call = due.call
        hungup_by = call.hungup_by or ("citizen" if call.answered_at is None else None)
        return call.recording, {
            "uniqueid": call.uniqueid, "linkedid": call.linkedid, "caller_number": call.caller,
            "started_at": call.started_at, "ended_at": due.ended,
            "answered_at": call.answered_at, "queue_wait_s": call.wait_s, "talk_s": due.talk,
            "agent_code": call.agent_code, "hangup_cause": due.cause, "hungup_by": hungup_by}


def _due_at(due: _Due) -> float:
    return due.at


@dataclass
class _Due:
    """A call hung up, waiting for its final unit of work."""

    at: float  # reactor seconds from when it may be written
    settled: float  # reactor seconds from when its recordings are closed (Hangup + settle_s)
    call: _Open
    ended: dt.datetime
    talk: float | None
    cause: int | None
    done: Deferred[Any] = field(default_factory=Deferred)


def _who_hung_up(reason: str | None) -> str | None:
    """The queue's C{AgentComplete} reason as the row's C{hungup_by} (C{transfer} kept)."""
    reason = (reason or "").lower()
    return {"caller": "citizen", "agent": "agent"}.get(reason, reason or None)


def recording_files(recording: str | None,
                    host_path: Callable[[str], str] = lambda p: p) -> list[RecordingFile]:
    """Stat a call's MixMonitor files from their common prefix (blocking: run it in a thread)."""
    if not recording:
        return []
    out = []
    for direction, suffix in RECORDING_SUFFIXES.items():
        path = host_path(recording + suffix)
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        out.append(RecordingFile(direction=direction, path=path, size_bytes=size))
    return out
