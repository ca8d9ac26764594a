# -*- test-case-name: tests.stt.test_service -*-
"""The transcription service: finished calls' recordings decoded off the reactor, noted on tickets.

On the reactor: a call is finalised → its job is queued (a row) → ``_fill`` claims due jobs
while fewer than ``stt.workers`` run. Each job runs whole in one thread of our own pool: read
the files, decode each speaker with the one shared model, match the directory's keywords,
write segments and the ticket's note in one unit of work. A job that fails for a reason that
may pass (a file not there yet) is retried a bounded number of times; a broken file ends it
with its reason on the ticket. Nothing a job does can stop the pool or the reactor.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from db.models import Transcript, utcnow
from db.session import unit_of_work
from hotline.bus import EventBus
from hotline.config import Config
from hotline.directory.service import load_entries
from hotline.stt import jobs
from hotline.stt.decoder import AudioError, decode_file
from hotline.stt.keywords import KeywordSpotter
from hotline.stt.live import LiveTranscripts
from hotline.stt.models import ModelError, ModelRegistry
from hotline.tickets.service import TicketService

if TYPE_CHECKING:
    from db.session import Database

__all__ = ["TranscriptionService", "default_worker_name"]


@dataclass(frozen=True, slots=True)
class TranscriptReady:
    """A call's transcript was stored (C{status} ``done``) or given up (``failed``)."""

    call_id: int
    transcript_id: int
    status: str


_log = Logger(namespace="hotline.stt.service")
#: How far back finished calls without a job are looked for (calls the finaliser never saw).
_MISSED_WINDOW = dt.timedelta(days=2)


class TranscriptionService:
    """Turns finished calls into transcripts and ticket notes, ``stt.workers`` at a time.

    ``registry`` may be shared (tests share one loaded model); ``worker_name`` identifies this
    controller in the job rows (default: host name and state directory, stable across restarts
    so a restarted controller takes its own interrupted jobs back at once); ``now`` is the clock.
    """

    def __init__(self, *, config: Config, db: Database, reactor: Any,
                 registry: ModelRegistry | None = None, tickets: TicketService | None = None,
                 worker_name: str | None = None,
                 now: Callable[[], dt.datetime] = utcnow, bus: EventBus | None = None) -> None:
        stt = config["stt"]
        #: Where L{TranscriptReady} is published (the controller's bus; else one of its own).
        self.bus = bus if bus is not None else EventBus()
        self.config = config
        self.db = db
        self.reactor = reactor
        self.registry = registry or ModelRegistry(config)
        self.tickets = tickets or TicketService(timezone=config["site"]["timezone"])
        self.worker_name = worker_name or default_worker_name(config)
        self.now = now
        self.workers = int(stt["workers"])
        if self.workers < 1:
            raise ValueError(f"stt.workers must be at least 1, not {self.workers}")
        self.registry.current  # noqa: B018 - an unknown stt.model is refused here, at start-up
        self.max_attempts = int(stt["retries"])
        self.retry_delay = dt.timedelta(seconds=float(stt["retry_delay_s"]))
        self.lease = dt.timedelta(seconds=float(stt["lease_s"]))
        self.chunk_frames = int(stt["chunk_frames"])
        self.call_language = stt["call_language"]
        self.keyword_pass = bool(stt["keyword_pass"])
        self.skip_abandoned_under_s = float(stt["skip_abandoned_under_s"])
        self.pool = ThreadPool(minthreads=0, maxthreads=self.workers, name="hotline-stt")
        self._poll = LoopingCall(self.kick)
        self._poll.clock = reactor
        self._running = 0
        self._filling = False
        self._stopping = False
        self._model_ready = False
        self._model_problem: str | None = None
        self._idle: list[defer.Deferred[None]] = []
        #: The live captions' segments of calls still up (hotline/floor/captions.py fills it).
        self.live = LiveTranscripts()
        #: Set by its plugin: stops queueing a job for every finalised call.
        self.detach: Callable[[], None] = lambda: None

    # -- life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the pool, take back this controller's interrupted jobs, and start polling."""
        self._stopping = False
        self.pool.start()
        taken = await self._run(jobs.requeue_stale, worker=self.worker_name, lease=self.lease,
                                  now=self.now())
        if taken:
            _log.info("stt: {n} interrupted job(s) queued again", n=taken)
        self._poll.start(float(self.config["stt"]["poll_s"]), now=True)

    async def stop(self) -> None:
        """Take no new job, let running ones finish, stop the pool's threads."""
        self._stopping = True
        if self._poll.running:
            self._poll.stop()
        await self.idle()
        from twisted.internet import threads
        await threads.deferToThread(self.pool.stop)

    def idle(self) -> defer.Deferred[None]:
        """Fires once no job is running (at once when none is)."""
        if self._running == 0:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._idle.append(d)
        return d

    @property
    def running(self) -> int:
        """Jobs being decoded right now."""
        return self._running

    # -- intake ----------------------------------------------------------------------------------

    def on_call_finalised(self, call_id: int, uniqueid: str | None = None, *,
                          queued: bool = False) -> defer.Deferred[Any]:
        """The finaliser's listener: queue the call's job (once) and start it if a worker is
        free. Calls without speech recordings are skipped. A call that was captioned live
        (L{live}, by its citizen channel's C{uniqueid}) is not decoded again: once its streams
        have ended, the live segments become its transcript and the ticket's note.

        C{queued}: the finaliser's own unit of work queued the job already (L{enqueue_step});
        a free worker only needs to take it, with no database work here."""
        if uniqueid is not None and self.live.captured(uniqueid):
            d = self.live.finished(uniqueid)

            def settled(segments: list[jobs.Segment] | None) -> defer.Deferred[Any]:
                if segments is None:
                    # The captions gave the call up under load: decode it as any call (the
                    # finaliser's step skipped it while it was still being captioned).
                    self.live.forget(uniqueid)
                    return self._enqueue(call_id, queued=False)
                done = self._run(self._store_live, call_id, segments)
                done.addCallback(lambda row: row and self.bus.publish(
                    TranscriptReady(call_id, row[0], row[1])))
                return done
            return d.addCallback(settled)
        if uniqueid is not None and self.live.given_up(uniqueid):
            self.live.forget(uniqueid)
        return self._enqueue(call_id, queued=queued)

    def _enqueue(self, call_id: int, *, queued: bool) -> defer.Deferred[Any]:
        """Queue call C{call_id}'s decoding job (unless the finaliser's step did) and kick."""
        if queued:
            self.kick(sweep=False)
            return defer.succeed(None)
        spec = self.registry.current
        d = self._run(jobs.enqueue, call_id, model=spec.name, language=spec.language,
                      now=self.now(), skip_abandoned_under_s=self.skip_abandoned_under_s)

        def queued_job(job: Any) -> None:
            if job is not None:
                _log.info("stt: call {call_id} queued as job {job_id}", call_id=call_id,
                          job_id=job.id)
                self.kick()
        d.addCallback(queued_job)
        return d

    def _store_live(self, session: Any, call_id: int,
                    segments: list[jobs.Segment]) -> tuple[int, str] | None:
        """The live transcript of call C{call_id} as its job, done at once, and its note."""
        spec = self.registry.current
        job = jobs.enqueue(session, call_id, model=spec.name, language=spec.language,
                           now=self.now())
        if job is None:  # no recording to fall back on: the live words are all there is
            job = Transcript(call_id=call_id, kind="call", model=spec.name,
                                  language=spec.language, status=jobs.QUEUED, attempts=0,
                                  created_at=self.now())
            session.add(job)
            session.flush()
        if job.status in (jobs.DONE, jobs.FAILED):
            return None
        job.source = jobs.LIVE
        results = [jobs.SpeakerResult(speaker=speaker, path="",
                                      segments=[g for g in segments if g.speaker == speaker])
                   for speaker in sorted({g.speaker for g in segments})]
        spotter = KeywordSpotter(load_entries(session))
        suggestion = spotter.suggest(" ".join(g.text for g in segments)) \
            if len(spotter) and segments else None
        row = jobs.finish(session, job.id, results,
                          suggestion=suggestion.as_dict() if suggestion else None,
                          now=self.now())
        if not results:
            row.status, row.error = jobs.DONE, None  # a silent call: an empty transcript
        jobs.post_note(session, row, tickets=self.tickets, call_language=self.call_language)
        _log.info("stt: call {call_id}: the live transcript ({n} segments) is its note",
                  call_id=call_id, n=len(segments))
        return row.id, row.status

    def enqueue_step(self, session: Any, call: Any) -> None:
        """The finaliser's step: queue the call's job in the call's own final unit of work
        (L{hotline.calls.finaliser.CallFinaliser.add_step}); calls without speech are skipped,
        and so are calls captioned live: their live words become the transcript once the
        streams end (L{on_call_finalised}). (C{live} is the reactor's; a membership test from
        this pool thread reads a dict the reactor only adds to and pops from.)"""
        if self.live.captured(call.uniqueid):
            return
        spec = self.registry.current
        jobs.enqueue_finalised(session, call, model=spec.name, language=spec.language,
                               now=self.now(),
                               skip_abandoned_under_s=self.skip_abandoned_under_s)

    def kick(self, *, sweep: bool = True) -> None:
        """Claim due jobs while workers are free (safe to call any time, from the reactor).

        C{sweep} also queues the calls recorded without the finaliser and posts pending notes
        first: the periodic poll does that; a call just finalised (C{sweep=False}) only needs a
        free worker to take its job, and costs nothing at all while no model can run."""
        d = defer.Deferred.fromCoroutine(self._fill(sweep=sweep))
        d.addErrback(lambda f: _log.failure("stt: cannot take jobs", f))

    def on_transcribed(self, listener: Callable[[int, int, str], object]) -> Callable[[], None]:
        """Call ``listener(call_id, transcript_id, status)`` on the reactor once a call's
        transcript is stored (``done``) or given up (``failed``): the desk shows it then.
        Returns a function that removes the listener; a failing listener is logged only."""
        sub = self.bus.subscribe(
            TranscriptReady, lambda e: listener(e.call_id, e.transcript_id, e.status))
        return sub.cancel

    def _announce(self, status: str, job: jobs.JobInput) -> str:
        if status in (jobs.DONE, jobs.FAILED):
            self.bus.publish(TranscriptReady(job.call_id, job.id, status))
        return status

    # -- the reactor side of a job ---------------------------------------------------------------

    async def _fill(self, *, sweep: bool = True) -> None:
        if self._filling or self._stopping:
            return
        if not sweep and (self._running >= self.workers
                          or (not self._model_ready and self._model_problem is not None)):
            return  # every worker busy, or no model to decode with: the poll comes back
        self._filling = True
        try:
            spec = self.registry.current
            now = self.now()
            if sweep:
                missed = await self._run(jobs.enqueue_missed, since=now - _MISSED_WINDOW,
                                         model=spec.name, language=spec.language, now=now,
                                         skip_abandoned_under_s=self.skip_abandoned_under_s)
                if missed:
                    _log.info("stt: queued calls recorded without the finaliser: {ids}",
                              ids=missed)
                await self._run(jobs.post_pending_notes, tickets=self.tickets,
                                call_language=self.call_language)
            if not await self._ensure_model():
                return
            while self._running < self.workers and not self._stopping:
                job = await self._run(jobs.claim_next, worker=self.worker_name,
                                        now=self.now(), model=spec.name, language=spec.language)
                if job is None:
                    break
                self._running += 1
                d = deferToThreadPool(self.reactor, self.pool, self._run_job, job)
                d.addCallback(self._announce, job)
                d.addErrback(lambda f, j=job: _log.failure(
                    "stt: job {job_id} for call {uniqueid} ended in error", f, job_id=j.id,
                    uniqueid=j.call_uniqueid))
                d.addBoth(self._job_ended)
        finally:
            self._filling = False

    async def _ensure_model(self) -> bool:
        """Load the model once, in a pool thread. A model that cannot be had leaves every job
        queued (logged once per distinct problem) until the next poll tries again."""
        if self._model_ready:
            return True
        try:
            await deferToThreadPool(self.reactor, self.pool, self.registry.get)
        except ModelError as e:
            if str(e) != self._model_problem:
                _log.error("stt: jobs stay queued: {problem}", problem=str(e))
                self._model_problem = str(e)
            return False
        self._model_ready = True
        return True

    def _job_ended(self, _: Any) -> None:
        self._running -= 1
        if self._running == 0:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)
        if not self._stopping:
            self.kick(sweep=False)

    # -- units of work -----------------------------------------------------------------------------

    def _unit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(session, ...)`` in one unit of work, blocking (pool threads only), under the
        database's one retry policy for SQLite's "database is locked"
        (L{db.session.unit_of_work}).

        A plain (deferred) transaction, not the write lock up front: most of this service's
        units only read (the poll runs every ``poll_s``), and taking SQLite's one write lock
        for each would make every other writer wait on them."""
        return unit_of_work(self.db.session_factory, fn, *args, **kwargs)

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        """``_unit`` on the database's thread pool, for the reactor side."""
        return deferToThreadPool(self.reactor, self.db.pool, self._unit, fn, *args, **kwargs)

    # -- the worker side (runs in the pool) ------------------------------------------------------

    def _run_job(self, job: jobs.JobInput) -> str:
        """Decode, suggest and store one job; returns its final status. Never raises for bad
        audio; an unexpected error counts as an attempt and is retried within the bound."""
        try:
            return self._decode_and_store(job)
        except Exception as e:  # noqa: BLE001 - a bug in one job must not stop the worker
            _log.failure("stt: job {job_id} (call {uniqueid}) crashed", job_id=job.id,
                         uniqueid=job.call_uniqueid)
            problem = f"internal error: {e!r}"

            def give_up(session: Any) -> str:
                row = jobs.retry_or_fail(session, job.id, problem,
                                         permanent=False, max_attempts=self.max_attempts,
                                         retry_delay=self.retry_delay, now=self.now())
                if row.status == jobs.FAILED:
                    jobs.post_note(session, row, tickets=self.tickets,
                                   call_language=self.call_language)
                return row.status
            return self._unit(give_up)

    def _decode_and_store(self, job: jobs.JobInput) -> str:
        model = self.registry.get(job.model)
        results: list[jobs.SpeakerResult] = []
        transient: list[AudioError] = []
        decoded: dict[str, Any] = {}
        for speaker, path in job.recordings:
            result = jobs.SpeakerResult(speaker=speaker, path=path)
            try:
                out = decode_file(model, path, chunk_frames=self.chunk_frames)
            except AudioError as e:
                result.error = str(e)
                if not e.permanent:
                    transient.append(e)
            else:
                decoded[speaker] = out
                result.segments = [jobs.Segment(speaker, u.start_s, u.end_s, u.text,
                                                u.confidence) for u in out.utterances]
            results.append(result)
        if transient and job.attempts < self.max_attempts:
            row = self._unit(jobs.retry_or_fail, job.id, "; ".join(map(str, transient)),
                             permanent=False, max_attempts=self.max_attempts,
                             retry_delay=self.retry_delay, now=self.now())
            _log.warn("stt: job {job_id} (call {uniqueid}) will be tried again: {error}",
                      job_id=job.id, uniqueid=job.call_uniqueid, error=row.error)
            return row.status
        suggestion = self._suggest(model, job, decoded)
        def store(session: Any) -> tuple[str, str | None, int | None]:
            row = jobs.finish(session, job.id, results, suggestion=suggestion, now=self.now())
            event_id = jobs.post_note(session, row, tickets=self.tickets,
                                      call_language=self.call_language)
            return row.status, row.error, event_id
        status, error, event_id = self._unit(store)
        _log.info("stt: job {job_id} (call {uniqueid}) {status}: {n} segment(s), note "
                  "{event_id}{problem}", job_id=job.id, uniqueid=job.call_uniqueid,
                  status=status, n=sum(len(r.segments) for r in results), event_id=event_id,
                  problem=f", {error}" if error else "")
        return status

    def _suggest(self, model: Any, job: jobs.JobInput,
                 decoded: dict[str, Any]) -> dict[str, Any] | None:
        """Category / department / hotline from the words; a grammar pass over the citizen's
        recording with the directory's terms when the plain text matched nothing."""
        if not decoded:
            return None
        spotter = KeywordSpotter(self._unit(load_entries))
        if not len(spotter):
            return None
        suggestion = spotter.suggest(" ".join(d.text for d in decoded.values()))
        if suggestion is None and self.keyword_pass and "citizen" in decoded:
            path = dict(job.recordings)["citizen"]
            try:
                spotted = decode_file(model, path, chunk_frames=self.chunk_frames,
                                      grammar=spotter.grammar())
            except AudioError:
                return None
            suggestion = spotter.suggest(spotter.spotted_text(spotted.utterances),
                                         source="keyword-pass")
        return suggestion.as_dict() if suggestion else None


def default_worker_name(config: Config) -> str:
    """This controller's name in job rows: host and state directory, stable across restarts."""
    return f"{socket.gethostname()}:{config.state_dir}"[:100]
